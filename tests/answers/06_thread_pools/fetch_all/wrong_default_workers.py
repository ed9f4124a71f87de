# Forgets max_workers, so the executor runs its default number of threads, not `workers`.
from concurrent.futures import ThreadPoolExecutor

from course.net import fetch


def fetch_all(urls, workers):
    """Download every url in a ThreadPoolExecutor of `workers` threads; return the bodies in the order of urls."""
    with ThreadPoolExecutor() as executor:
        return list(executor.map(fetch, urls))
