# Returns executors made from the classes, instead of the classes themselves.
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def pick_executor(kind):
    """The executor class for a kind of work: "cpu" -> ProcessPoolExecutor, "io" -> ThreadPoolExecutor."""
    if kind == "cpu":
        return ProcessPoolExecutor()
    if kind == "io":
        return ThreadPoolExecutor()
    raise ValueError(f"unknown kind {kind!r}")
