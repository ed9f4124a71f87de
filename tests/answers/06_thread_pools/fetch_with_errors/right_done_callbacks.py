# Fills the dict from done-callbacks, then waits for every future with wait().
# racy: how many downloads overlap (was: 0.2 s downloads had to overlap 3 at once)
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import course.net


def fetch_with_errors(urls, workers):
    """Download every url with `workers` threads; return {url: body}, with the exception raised for each failed url."""
    results = {}
    lock = threading.Lock()

    def store(url, future):
        with lock:
            results[url] = future.exception() or future.result()

    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = []
        for url in urls:
            future = executor.submit(course.net.fetch, url)
            future.add_done_callback(lambda done, url=url: store(url, done))
            futures.append(future)
        wait(futures)
    return results
