# Collects the digests with as_completed, so they come back in the order the hashes finish.
# racy: the order in which the hashes finish
import hashlib
from concurrent.futures import ThreadPoolExecutor, as_completed


def parallel_sha256(chunks, workers):
    """The hex SHA-256 digest of each chunk, in order, computed in a ThreadPoolExecutor of `workers` threads."""
    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = [executor.submit(lambda c: hashlib.sha256(c).hexdigest(), chunk) for chunk in chunks]
        return [future.result() for future in as_completed(futures)]
