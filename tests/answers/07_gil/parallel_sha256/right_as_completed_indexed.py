# Uses as_completed, but remembers each future's position and puts the digests back in order.
# racy: the order in which the hashes finish
import hashlib
from concurrent.futures import ThreadPoolExecutor, as_completed


def hex_digest(chunk):
    return hashlib.sha256(chunk).hexdigest()


def parallel_sha256(chunks, workers):
    """The hex SHA-256 digest of each chunk, in order, computed in a ThreadPoolExecutor of `workers` threads."""
    digests = [None] * len(chunks)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sha") as pool:
        position = {pool.submit(hex_digest, chunk): i for i, chunk in enumerate(chunks)}
        for future in as_completed(position):
            digests[position[future]] = future.result()
    return digests
