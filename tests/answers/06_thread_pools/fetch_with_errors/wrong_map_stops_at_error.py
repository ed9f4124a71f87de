# Uses executor.map and catches each error while iterating: after the first failure the iterator is finished.
from concurrent.futures import ThreadPoolExecutor

from course.net import fetch


def fetch_with_errors(urls, workers):
    """Download every url with `workers` threads; return {url: body}, with the exception raised for each failed url."""
    results = {}
    with ThreadPoolExecutor(max_workers=workers) as executor:
        bodies = executor.map(fetch, urls)
        for url in urls:
            try:
                results[url] = next(bodies)
            except Exception as error:
                results[url] = error
    return results
