# Sizes the pool by the number of chunks: ValueError for an empty list, and the wrong size otherwise.
import hashlib
from concurrent.futures import ThreadPoolExecutor


def parallel_sha256(chunks, workers):
    """The hex SHA-256 digest of each chunk, in order, computed in a ThreadPoolExecutor of `workers` threads."""
    with ThreadPoolExecutor(max_workers=min(workers, len(chunks))) as executor:
        return list(executor.map(lambda chunk: hashlib.sha256(chunk).hexdigest(), chunks))
