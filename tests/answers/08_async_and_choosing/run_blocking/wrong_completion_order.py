# Runs every call at once with asyncio.to_thread, but collects the results with as_completed, in the order they finish.
import asyncio


async def run_blocking(funcs):
    """Run each blocking zero-argument callable in a thread with asyncio.to_thread, all at once; return the results in order."""
    results = []
    for next_done in asyncio.as_completed([asyncio.to_thread(func) for func in funcs]):
        results.append(await next_done)
    return results
