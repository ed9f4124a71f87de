# Limits the downloads with a Semaphore, but collects the bodies with as_completed, in the order the downloads finish.
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

    tasks = [asyncio.create_task(download(url)) for url in urls]
    try:
        return [await next_done for next_done in asyncio.as_completed(tasks)]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
