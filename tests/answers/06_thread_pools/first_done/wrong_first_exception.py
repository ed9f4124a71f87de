# Waits with FIRST_EXCEPTION, which, when no download fails, waits until all of them are done.
# racy: whether the slow downloads end before the test stops waiting, and which done future it picks
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from course.net import fetch


def first_done(urls, workers):
    """Download the urls with `workers` threads; return the url whose download finishes first, without waiting for the others."""
    executor = ThreadPoolExecutor(max_workers=workers)
    futures = {executor.submit(fetch, url): url for url in urls}
    done, _ = wait(futures, return_when=FIRST_EXCEPTION)
    executor.shutdown(wait=False)
    return futures[next(iter(done))]
