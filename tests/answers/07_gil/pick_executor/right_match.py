# A match statement, with the classes imported from their own submodules.
from concurrent.futures.process import ProcessPoolExecutor
from concurrent.futures.thread import ThreadPoolExecutor


def pick_executor(kind):
    """The executor class for a kind of work: "cpu" -> ProcessPoolExecutor, "io" -> ThreadPoolExecutor."""
    match kind:
        case "cpu":
            return ProcessPoolExecutor
        case "io":
            return ThreadPoolExecutor
        case _:
            raise ValueError(f"expected 'cpu' or 'io', got {kind!r}")
