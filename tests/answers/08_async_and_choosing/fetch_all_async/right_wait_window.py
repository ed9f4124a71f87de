# A sliding window: starts downloads until `limit` are running, then one more each time asyncio.wait(FIRST_COMPLETED) returns.
# racy: whether 3 requests reach the gated server within its 3 s, and the 5 other downloads end within 5 s while the first is held
import asyncio

from course.net import fetch_async


async def fetch_all_async(urls, limit):
    """Download every url with fetch_async, at most `limit` at once; return the bodies in the order of urls."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit!r}")
    bodies = {}
    running = {}
    waiting = list(enumerate(urls))
    waiting.reverse()
    try:
        while waiting or running:
            while waiting and len(running) < limit:
                index, url = waiting.pop()
                running[asyncio.create_task(fetch_async(url))] = index
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                bodies[running.pop(task)] = task.result()
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)
        for task in running:
            if not task.cancelled():
                task.exception()  # retrieved, so that asyncio does not log it as never retrieved
    return [bodies[index] for index in range(len(urls))]
