# Downloads every url first (under a Semaphore), and only then counts the bodies in the pool.
import asyncio
from concurrent.futures import ProcessPoolExecutor

from course.net import fetch_async
from course.workers import count_words


async def pipeline(urls, download_limit, processes):
    """Download the urls (at most `download_limit` at once) and count each body's words in a pool of `processes` processes as it arrives; return {url: words}."""
    slots = asyncio.Semaphore(download_limit)

    async def download(url):
        async with slots:
            return await fetch_async(url)

    bodies = await asyncio.gather(*(download(url) for url in urls))
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=processes) as pool:
        counts = await asyncio.gather(*(loop.run_in_executor(pool, count_words, body) for body in bodies))
    return dict(zip(urls, counts))
