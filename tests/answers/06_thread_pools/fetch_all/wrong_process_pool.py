# Uses a ProcessPoolExecutor: the downloads run in other processes, not in a pool of threads.
from concurrent.futures import ProcessPoolExecutor

from course.net import fetch


def fetch_all(urls, workers):
    """Download every url in a ThreadPoolExecutor of `workers` threads; return the bodies in the order of urls."""
    with ProcessPoolExecutor(max_workers=workers) as executor:
        return list(executor.map(fetch, urls))
