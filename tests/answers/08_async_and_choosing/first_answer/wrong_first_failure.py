# Skips failed downloads, but when all fail, raises the first failure instead of the last.
import asyncio

from course.net import fetch_async


async def first_answer(urls, timeout):
    """Return the body of the first url whose download succeeds; cancel the rest; TimeoutError after `timeout` s."""
    tasks = [asyncio.create_task(fetch_async(url)) for url in urls]
    try:
        async with asyncio.timeout(timeout):
            failures = []
            for arrival in asyncio.as_completed(tasks):
                try:
                    return await arrival
                except Exception as error:
                    failures.append(error)
            raise failures[0]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
