# Notes the order in which the downloads finish with done-callbacks, but waits for all of them before returning the first.
# racy: whether the slow downloads end before the test stops waiting
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from course.net import fetch


def first_done(urls, workers):
    """Download the urls with `workers` threads; return the url whose download finishes first, without waiting for the others."""
    finished = []
    lock = threading.Lock()

    def note(url):
        with lock:
            finished.append(url)

    executor = ThreadPoolExecutor(max_workers=workers)
    futures = []
    for url in urls:
        future = executor.submit(fetch, url)
        future.add_done_callback(lambda _, url=url: note(url))
        futures.append(future)
    wait(futures)
    executor.shutdown(wait=False)
    return finished[0]
