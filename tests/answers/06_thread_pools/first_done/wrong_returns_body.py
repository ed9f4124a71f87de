# Returns the first download's body instead of its url.
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from course.net import fetch


def first_done(urls, workers):
    """Download the urls with `workers` threads; return the url whose download finishes first, without waiting for the others."""
    executor = ThreadPoolExecutor(max_workers=workers)
    futures = [executor.submit(fetch, url) for url in urls]
    done, _ = wait(futures, return_when=FIRST_COMPLETED)
    executor.shutdown(wait=False, cancel_futures=True)
    return done.pop().result()
