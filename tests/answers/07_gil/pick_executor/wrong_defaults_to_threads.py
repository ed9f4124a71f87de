# Treats every kind other than "cpu" as IO-bound, so it never raises ValueError.
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def pick_executor(kind):
    """The executor class for a kind of work: "cpu" -> ProcessPoolExecutor, "io" -> ThreadPoolExecutor."""
    return ProcessPoolExecutor if kind == "cpu" else ThreadPoolExecutor
