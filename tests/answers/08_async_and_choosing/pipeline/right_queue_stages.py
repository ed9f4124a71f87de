# Two stages joined by a bounded asyncio.Queue: `download_limit` downloaders put (url, body) on it, `processes` counters take them off.
# racy: whether 2 requests reach the gated server within its 3 s, and a count is submitted within 5 s while one download is held
import asyncio
from concurrent.futures import ProcessPoolExecutor

from course.net import fetch_async
from course.workers import count_words


async def pipeline(urls, download_limit, processes):
    """Download the urls (at most `download_limit` at once) and count each body's words in a pool of `processes` processes as it arrives; return {url: words}."""
    loop = asyncio.get_running_loop()
    todo = list(urls)
    bodies = asyncio.Queue(maxsize=processes)
    counts = {}

    async def download():
        while todo:
            url = todo.pop()
            await bodies.put((url, await fetch_async(url)))

    async def count(pool):
        while (item := await bodies.get()) is not None:
            url, body = item
            counts[url] = await loop.run_in_executor(pool, count_words, body)

    with ProcessPoolExecutor(processes) as pool:
        counters = [asyncio.create_task(count(pool)) for _ in range(processes)]
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(download_limit, len(urls))):
                    group.create_task(download())
            for _ in counters:
                await bodies.put(None)
            await asyncio.gather(*counters)
        except BaseException as error:
            for counter in counters:
                counter.cancel()
            await asyncio.gather(*counters, return_exceptions=True)
            if isinstance(error, ExceptionGroup):
                raise error.exceptions[0] from None
            raise
    return counts
