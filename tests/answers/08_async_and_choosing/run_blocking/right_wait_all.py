# Starts every call with asyncio.to_thread, waits for all with asyncio.wait, and reads the results by position.
# racy: whether the calls' threads all reach the barrier, and the event loop runs their callbacks, within 5 s
import asyncio
from asyncio import to_thread


async def run_blocking(funcs):
    """Run each blocking zero-argument callable in a thread with asyncio.to_thread, all at once; return the results in order."""
    if not funcs:
        return []
    by_position = {asyncio.create_task(to_thread(func)): position for position, func in enumerate(funcs)}
    done, _ = await asyncio.wait(by_position)
    results = [None] * len(funcs)
    for task in done:
        results[by_position[task]] = task.result()
    return results
