# Submits every url first, then asks each future in url order, catching what result() raises.
# racy: how many downloads overlap (was: 0.2 s downloads had to overlap 3 at once)
from concurrent.futures import ThreadPoolExecutor

from course.net import fetch


def fetch_with_errors(urls, workers):
    """Download every url with `workers` threads; return {url: body}, with the exception raised for each failed url."""
    executor = ThreadPoolExecutor(workers)
    futures = [(url, executor.submit(fetch, url)) for url in urls]
    results = {}
    for url, future in futures:
        try:
            results[url] = future.result()
        except Exception as error:
            results[url] = error
    executor.shutdown()
    return results
