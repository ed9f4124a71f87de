# A task per url in a TaskGroup inside the pool's with block: download under a Semaphore, then await the count; unwraps the ExceptionGroup.
# racy: whether 2 requests reach the gated server within its 3 s, and a count is submitted within 5 s while one download is held
import asyncio
from concurrent.futures import ProcessPoolExecutor

from course.net import fetch_async
from course.workers import count_words


async def pipeline(urls, download_limit, processes):
    """Download the urls (at most `download_limit` at once) and count each body's words in a pool of `processes` processes as it arrives; return {url: words}."""
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(download_limit)
    counts = {}

    async def one(url, pool):
        async with slots:
            body = await fetch_async(url)
        counts[url] = await loop.run_in_executor(pool, count_words, body)

    try:
        with ProcessPoolExecutor(max_workers=processes) as pool:
            async with asyncio.TaskGroup() as group:
                for url in urls:
                    group.create_task(one(url, pool))
    except ExceptionGroup as errors:
        raise errors.exceptions[0] from None
    return counts
