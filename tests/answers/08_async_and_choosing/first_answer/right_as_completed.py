# Takes the downloads from asyncio.as_completed inside asyncio.timeout, skipping failures; a finally cancels and gathers every task.
# racy: whether the failed download comes back within the test's 5 s while the working one is held, and the 0.5 s timeout ends the call within 5 s
import asyncio

import course.net


async def first_answer(urls, timeout):
    """Return the body of the first url whose download succeeds; cancel the rest; TimeoutError after `timeout` s."""
    tasks = [asyncio.create_task(course.net.fetch_async(url)) for url in urls]
    try:
        async with asyncio.timeout(timeout):
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
