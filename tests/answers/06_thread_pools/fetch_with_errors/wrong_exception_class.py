# Maps a failed url to the exception's class instead of the exception instance.
from concurrent.futures import ThreadPoolExecutor, as_completed

from course.net import fetch


def fetch_with_errors(urls, workers):
    """Download every url with `workers` threads; return {url: body}, with the exception raised for each failed url."""
    results = {}
    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = {executor.submit(fetch, url): url for url in urls}
        for future in as_completed(futures):
            error = future.exception()
            results[futures[future]] = future.result() if error is None else type(error)
    return results
