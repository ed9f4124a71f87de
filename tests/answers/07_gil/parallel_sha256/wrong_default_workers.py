# Leaves out max_workers, so the pool gets Python's default size instead of `workers` threads.
import hashlib
from concurrent.futures import ThreadPoolExecutor


def parallel_sha256(chunks, workers):
    """The hex SHA-256 digest of each chunk, in order, computed in a ThreadPoolExecutor of `workers` threads."""
    with ThreadPoolExecutor() as executor:
        return list(executor.map(lambda chunk: hashlib.sha256(chunk).hexdigest(), chunks))
