# Returns map's iterator itself instead of a list of the bodies.
from concurrent.futures import ThreadPoolExecutor

from course.net import fetch


def fetch_all(urls, workers):
    """Download every url in a ThreadPoolExecutor of `workers` threads; return the bodies in the order of urls."""
    with ThreadPoolExecutor(max_workers=workers) as executor:
        return executor.map(fetch, urls)
