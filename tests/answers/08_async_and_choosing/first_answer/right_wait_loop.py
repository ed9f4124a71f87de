# Loops on asyncio.wait(FIRST_COMPLETED) with what is left of the timeout, remembering the last failure; a finally cancels and awaits the rest.
# racy: whether the failed download comes back within the test's 5 s while the working one is held, and the 0.5 s timeout ends the call within 5 s
import asyncio
import time

from course.net import fetch_async


async def first_answer(urls, timeout):
    """Return the body of the first url whose download succeeds; cancel the rest; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    tasks = [asyncio.create_task(fetch_async(url)) for url in urls]
    pending = set(tasks)
    last_error = None
    try:
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            done, pending = await asyncio.wait(pending, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=tasks.index):
                if task.exception() is None:
                    return task.result()
                last_error = task.exception()
        if pending or last_error is None:
            raise TimeoutError(f"no download succeeded within {timeout} s")
        raise last_error
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        for task in tasks:
            if not task.cancelled():
                task.exception()  # retrieved, so that asyncio does not log it as never retrieved
