# Maps a failed url to the error's message, a str, instead of the exception itself.
from concurrent.futures import ThreadPoolExecutor, as_completed

from course.net import fetch


def fetch_with_errors(urls, workers):
    """Download every url with `workers` threads; return {url: body}, with the exception raised for each failed url."""
    results = {}
    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = {executor.submit(fetch, url): url for url in urls}
        for future in as_completed(futures):
            try:
                results[futures[future]] = future.result()
            except Exception as error:
                results[futures[future]] = str(error)
    return results
