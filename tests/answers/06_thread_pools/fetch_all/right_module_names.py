# Uses the modules' names (concurrent.futures, course.net), and collects the bodies after the with block.
# racy: how many of the pool's downloads overlap (was: 0.2 s downloads had to overlap 4 at once) and the order the downloads finish in
import concurrent.futures

import course.net


def fetch_all(urls, workers):
    """Download every url in a ThreadPoolExecutor of `workers` threads; return the bodies in the order of urls."""
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = pool.map(course.net.fetch, urls)
    return [body for body in results]
