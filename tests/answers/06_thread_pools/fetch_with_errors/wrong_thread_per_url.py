# Catches each error correctly, but starts one thread per url instead of a pool of `workers` threads.
# racy: how many of its eight threads' downloads overlap
import threading

from course.net import fetch


def fetch_with_errors(urls, workers):
    """Download every url with `workers` threads; return {url: body}, with the exception raised for each failed url."""
    results = {}

    def download(url):
        try:
            results[url] = fetch(url)
        except Exception as error:
            results[url] = error

    threads = [threading.Thread(target=download, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
