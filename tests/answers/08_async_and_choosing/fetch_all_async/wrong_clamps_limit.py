# Treats a limit below 1 as 1 instead of raising ValueError.
import asyncio

from course.net import fetch_async


async def fetch_all_async(urls, limit):
    """Download every url with fetch_async, at most `limit` at once; return the bodies in the order of urls."""
    slots = asyncio.Semaphore(max(limit, 1))

    async def download(url):
        async with slots:
            return await fetch_async(url)

    tasks = [asyncio.ensure_future(download(url)) for url in urls]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
