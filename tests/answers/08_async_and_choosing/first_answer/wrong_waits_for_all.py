# Notes the bodies in the order they arrive, but waits for every download to end before returning the first.
import asyncio

from course.net import fetch_async


async def first_answer(urls, timeout):
    """Return the body of the first url whose download succeeds; cancel the rest; TimeoutError after `timeout` s."""
    arrived, failures = [], []

    async def attempt(url):
        try:
            arrived.append(await fetch_async(url))
        except Exception as error:
            failures.append(error)

    async with asyncio.timeout(timeout):
        await asyncio.gather(*(attempt(url) for url in urls))
    if arrived:
        return arrived[0]
    raise failures[-1]
