# A TaskGroup of attempts inside asyncio.timeout; the first attempt to succeed keeps its body and cancels the other tasks.
# racy: whether the failed download comes back within the test's 5 s while the working one is held, and the 0.5 s timeout ends the call within 5 s
import asyncio

from course.net import fetch_async


async def first_answer(urls, timeout):
    """Return the body of the first url whose download succeeds; cancel the rest; TimeoutError after `timeout` s."""
    bodies, failures, tasks = [], [], []

    async def attempt(url):
        try:
            body = await fetch_async(url)
        except Exception as error:
            failures.append(error)
            return
        if not bodies:
            bodies.append(body)
            for task in tasks:
                if task is not asyncio.current_task():
                    task.cancel()

    async with asyncio.timeout(timeout):
        async with asyncio.TaskGroup() as group:
            for url in urls:
                tasks.append(group.create_task(attempt(url)))
    if bodies:
        return bodies[0]
    raise failures[-1]
