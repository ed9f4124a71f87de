# Returns the raw digests (bytes from .digest()) instead of their hexadecimal strings.
import hashlib
from concurrent.futures import ThreadPoolExecutor


def parallel_sha256(chunks, workers):
    """The hex SHA-256 digest of each chunk, in order, computed in a ThreadPoolExecutor of `workers` threads."""
    with ThreadPoolExecutor(max_workers=workers) as executor:
        return list(executor.map(lambda chunk: hashlib.sha256(chunk).digest(), chunks))
