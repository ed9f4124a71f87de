# Starts a task per callable first, then awaits the tasks one by one in order: they all run while the first is awaited.
# racy: whether the calls' threads all reach the barrier, and the event loop runs their callbacks, within 5 s
import asyncio


async def run_blocking(funcs):
    """Run each blocking zero-argument callable in a thread with asyncio.to_thread, all at once; return the results in order."""
    tasks = []
    for func in funcs:
        tasks.append(asyncio.ensure_future(asyncio.to_thread(func)))
    results = []
    for task in tasks:
        results.append(await task)
    return results
