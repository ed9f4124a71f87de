# Records the first url to finish under a lock from inside each task, and waits on an Event, without wait() or as_completed.
# racy: which download finishes first, and how soon it returns
import threading
from concurrent.futures import ThreadPoolExecutor

import course.net


def first_done(urls, workers):
    """Download the urls with `workers` threads; return the url whose download finishes first, without waiting for the others."""
    first = []
    lock = threading.Lock()
    finished = threading.Event()

    def download(url):
        try:
            course.net.fetch(url)
        finally:
            with lock:
                if not first:
                    first.append(url)
                    finished.set()

    pool = ThreadPoolExecutor(max_workers=workers)
    for url in urls:
        pool.submit(download, url)
    finished.wait(timeout=60)
    pool.shutdown(wait=False, cancel_futures=True)
    return first[0]
