# Gathers the urls `limit` at a time, batch after batch: a batch waits for its slowest download before the next starts.
import asyncio

from course.net import fetch_async


async def fetch_all_async(urls, limit):
    """Download every url with fetch_async, at most `limit` at once; return the bodies in the order of urls."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    bodies = []
    for start in range(0, len(urls), limit):
        bodies += await asyncio.gather(*(fetch_async(url) for url in urls[start:start + limit]))
    return bodies
