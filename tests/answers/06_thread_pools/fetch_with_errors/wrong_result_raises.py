# Calls result() on every future without catching anything, so the first failed download raises.
from concurrent.futures import ThreadPoolExecutor

from course.net import fetch


def fetch_with_errors(urls, workers):
    """Download every url with `workers` threads; return {url: body}, with the exception raised for each failed url."""
    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = {url: executor.submit(fetch, url) for url in urls}
        return {url: future.result() for url, future in futures.items()}
