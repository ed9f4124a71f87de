# Returns multiprocessing's Pool and ThreadPool, not the concurrent.futures executors.
from multiprocessing.pool import Pool, ThreadPool


def pick_executor(kind):
    """The executor class for a kind of work: "cpu" -> ProcessPoolExecutor, "io" -> ThreadPoolExecutor."""
    if kind == "cpu":
        return Pool
    if kind == "io":
        return ThreadPool
    raise ValueError(f"unknown kind {kind!r}")
