from concurrent.futures import ProcessPoolExecutor

from course.workers import slow_identity


def result_or_default(seconds, timeout, default):
    """Return slow_identity(seconds), run in a pool, if it arrives within `timeout` seconds; else `default`, at once."""
    # Uses a ProcessPoolExecutor, whose shutdown cannot stop a task that is already running.
    executor = ProcessPoolExecutor(max_workers=1)
    future = executor.submit(slow_identity, seconds)
    try:
        return future.result(timeout=timeout)
    except TimeoutError:
        return default
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
