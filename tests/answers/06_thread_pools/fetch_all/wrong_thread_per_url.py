# Starts one thread per url instead of a pool of `workers` threads.
# racy: how many of its eight threads' downloads overlap
import threading

from course.net import fetch


def fetch_all(urls, workers):
    """Download every url in a ThreadPoolExecutor of `workers` threads; return the bodies in the order of urls."""
    bodies = [None] * len(urls)

    def download(i, url):
        bodies[i] = fetch(url)

    threads = [threading.Thread(target=download, args=(i, url)) for i, url in enumerate(urls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return bodies
