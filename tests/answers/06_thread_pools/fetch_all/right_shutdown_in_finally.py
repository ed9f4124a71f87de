# Shuts the executor down in a finally block, and maps a lambda that passes fetch a timeout.
# racy: how many of the pool's downloads overlap (was: 0.2 s downloads had to overlap 4 at once) and the order the downloads finish in
from concurrent.futures import ThreadPoolExecutor

from course.net import fetch


def fetch_all(urls, workers):
    """Download every url in a ThreadPoolExecutor of `workers` threads; return the bodies in the order of urls."""
    executor = ThreadPoolExecutor(max_workers=workers)
    try:
        return list(executor.map(lambda url: fetch(url, timeout=30), urls))
    finally:
        executor.shutdown(wait=True)
