# Runs the calls at once in a ThreadPoolExecutor, but waits for its map inside the coroutine, blocking the event loop.
from concurrent.futures import ThreadPoolExecutor


async def run_blocking(funcs):
    """Run each blocking zero-argument callable in a thread with asyncio.to_thread, all at once; return the results in order."""
    with ThreadPoolExecutor(max_workers=max(len(funcs), 1)) as pool:
        return list(pool.map(lambda func: func(), funcs))
