# Lower-cases and strips the kind first, so "CPU" and " io" are accepted instead of raising ValueError.
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def pick_executor(kind):
    """The executor class for a kind of work: "cpu" -> ProcessPoolExecutor, "io" -> ThreadPoolExecutor."""
    kind = kind.strip().lower()
    if kind == "cpu":
        return ProcessPoolExecutor
    if kind == "io":
        return ThreadPoolExecutor
    raise ValueError(f"unknown kind {kind!r}")
