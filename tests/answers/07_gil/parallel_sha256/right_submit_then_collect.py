# Submits hashlib.sha256 for every chunk, then reads each future's hash object in input order.
import hashlib
from concurrent.futures import ThreadPoolExecutor


def parallel_sha256(chunks, workers):
    """The hex SHA-256 digest of each chunk, in order, computed in a ThreadPoolExecutor of `workers` threads."""
    executor = ThreadPoolExecutor(workers)
    try:
        futures = [executor.submit(hashlib.sha256, chunk) for chunk in chunks]
        return [future.result(timeout=60).hexdigest() for future in futures]
    finally:
        executor.shutdown(wait=True)
