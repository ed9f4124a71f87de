# Finds the first download with wait(FIRST_COMPLETED), but inside a with block, which waits for all the others on exit.
# racy: whether the slow downloads end before the test stops waiting
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from course.net import fetch


def first_done(urls, workers):
    """Download the urls with `workers` threads; return the url whose download finishes first, without waiting for the others."""
    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = {executor.submit(fetch, url): url for url in urls}
        done, _ = wait(futures, return_when=FIRST_COMPLETED)
        return futures[done.pop()]
