# When a download fails, downloads that url again in the caller to get its exception: every failed url is fetched twice.
from concurrent.futures import ThreadPoolExecutor

from course.net import fetch


def fetch_with_errors(urls, workers):
    """Download every url with `workers` threads; return {url: body}, with the exception raised for each failed url."""
    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = {url: executor.submit(fetch, url) for url in urls}
    results = {}
    for url, future in futures.items():
        if future.exception() is None:
            results[url] = future.result()
        else:
            try:
                fetch(url)
            except Exception as error:
                results[url] = error
    return results
