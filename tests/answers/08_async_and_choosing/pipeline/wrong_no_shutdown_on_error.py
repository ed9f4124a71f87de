# Shuts the pool down after a successful run, but not when a download raises (no with block, no finally).
import asyncio
from concurrent.futures import ProcessPoolExecutor

from course.net import fetch_async
from course.workers import count_words


async def pipeline(urls, download_limit, processes):
    """Download the urls (at most `download_limit` at once) and count each body's words in a pool of `processes` processes as it arrives; return {url: words}."""
    loop = asyncio.get_running_loop()
    pool = ProcessPoolExecutor(max_workers=processes)
    slots = asyncio.Semaphore(download_limit)

    async def one(url):
        async with slots:
            body = await fetch_async(url)
        return await loop.run_in_executor(pool, count_words, body)

    counts = await asyncio.gather(*(one(url) for url in urls))
    pool.shutdown()
    return dict(zip(urls, counts))
