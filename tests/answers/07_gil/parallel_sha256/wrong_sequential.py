# Hashes the chunks one after another in the calling thread, with no thread pool at all.
import hashlib


def parallel_sha256(chunks, workers):
    """The hex SHA-256 digest of each chunk, in order, computed in a ThreadPoolExecutor of `workers` threads."""
    return [hashlib.sha256(chunk).hexdigest() for chunk in chunks]
