# Tries the urls one after another, so it returns the first url's body that succeeds, not the first download to finish.
import asyncio

from course.net import fetch_async


async def first_answer(urls, timeout):
    """Return the body of the first url whose download succeeds; cancel the rest; TimeoutError after `timeout` s."""
    failure = None
    async with asyncio.timeout(timeout):
        for url in urls:
            try:
                return await fetch_async(url)
            except Exception as error:
                failure = error
        raise failure
