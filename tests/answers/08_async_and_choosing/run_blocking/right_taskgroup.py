# One asyncio.to_thread task per callable in a TaskGroup; the results are read from the tasks after the group ends.
# racy: whether the calls' threads all reach the barrier, and the event loop runs their callbacks, within 5 s
import asyncio


async def run_blocking(funcs):
    """Run each blocking zero-argument callable in a thread with asyncio.to_thread, all at once; return the results in order."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(asyncio.to_thread(func)) for func in funcs]
    return [task.result() for task in tasks]
