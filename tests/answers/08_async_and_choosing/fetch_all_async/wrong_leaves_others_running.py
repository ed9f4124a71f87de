# Semaphore and gather: the first error propagates, but gather leaves the other downloads running.
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

    return await asyncio.gather(*(download(url) for url in urls))
