# A Semaphore of `limit` around each download, all gathered; on an error, cancels the rest and waits for them before raising.
# racy: whether 3 requests reach the gated server within its 3 s, and the 5 other downloads end within 5 s while the first is held
import asyncio

from course.net import fetch_async


async def fetch_all_async(urls, limit):
    """Download every url with fetch_async, at most `limit` at once; return the bodies in the order of urls."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    slots = asyncio.Semaphore(limit)

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
