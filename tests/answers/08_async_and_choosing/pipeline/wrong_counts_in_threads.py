# Counts each body in a thread with asyncio.to_thread instead of in a pool of processes.
import asyncio

from course.net import fetch_async
from course.workers import count_words


async def pipeline(urls, download_limit, processes):
    """Download the urls (at most `download_limit` at once) and count each body's words in a pool of `processes` processes as it arrives; return {url: words}."""
    slots = asyncio.Semaphore(download_limit)
    counts = {}

    async def one(url):
        async with slots:
            body = await fetch_async(url)
        counts[url] = await asyncio.to_thread(count_words, body)

    await asyncio.gather(*(one(url) for url in urls))
    return counts
