# Submits every url and collects the bodies with as_completed, so they come in the order the downloads finish.
# racy: the order in which the downloads finish
from concurrent.futures import ThreadPoolExecutor, as_completed

from course.net import fetch


def fetch_all(urls, workers):
    """Download every url in a ThreadPoolExecutor of `workers` threads; return the bodies in the order of urls."""
    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = [executor.submit(fetch, url) for url in urls]
        return [future.result() for future in as_completed(futures)]
