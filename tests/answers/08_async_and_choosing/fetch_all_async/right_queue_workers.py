# `limit` worker tasks in a TaskGroup take (index, url) pairs from an asyncio.Queue; the first error is taken out of the ExceptionGroup.
# racy: whether 3 requests reach the gated server within its 3 s, and the 5 other downloads end within 5 s while the first is held
import asyncio

import course.net


async def fetch_all_async(urls, limit):
    """Download every url with fetch_async, at most `limit` at once; return the bodies in the order of urls."""
    if limit < 1:
        raise ValueError("limit must be 1 or more")
    todo = asyncio.Queue()
    for item in enumerate(urls):
        todo.put_nowait(item)
    bodies = [None] * len(urls)

    async def worker():
        while not todo.empty():
            index, url = todo.get_nowait()
            bodies[index] = await course.net.fetch_async(url)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(limit, len(urls))):
                group.create_task(worker())
    except ExceptionGroup as errors:
        raise errors.exceptions[0] from None
    return bodies
