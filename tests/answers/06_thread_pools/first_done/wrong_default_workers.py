# Leaves out max_workers, so every url is downloaded at once in Python's default number of threads, not `workers`.
# racy: whether the second url's download starts before the first one ends
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from course.net import fetch


def first_done(urls, workers):
    """Download the urls with `workers` threads; return the url whose download finishes first, without waiting for the others."""
    executor = ThreadPoolExecutor()
    futures = {executor.submit(fetch, url): url for url in urls}
    done, _ = wait(futures, return_when=FIRST_COMPLETED)
    executor.shutdown(wait=False, cancel_futures=True)
    return futures[done.pop()]
