# Starts one daemon thread per url, ignoring `workers`, and returns the first url put in a queue.
# racy: which of its threads' downloads finishes first
import queue
import threading

from course.net import fetch


def first_done(urls, workers):
    """Download the urls with `workers` threads; return the url whose download finishes first, without waiting for the others."""
    finished = queue.Queue()

    def download(url):
        fetch(url)
        finished.put(url)

    for url in urls:
        threading.Thread(target=download, args=(url,), daemon=True).start()
    return finished.get(timeout=60)
