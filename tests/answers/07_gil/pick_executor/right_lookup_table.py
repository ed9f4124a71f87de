# Looks the kind up in a dict and turns the KeyError into a ValueError.
import concurrent.futures

EXECUTORS = {"cpu": concurrent.futures.ProcessPoolExecutor, "io": concurrent.futures.ThreadPoolExecutor}


def pick_executor(kind):
    """The executor class for a kind of work: "cpu" -> ProcessPoolExecutor, "io" -> ThreadPoolExecutor."""
    try:
        return EXECUTORS[kind]
    except (KeyError, TypeError):
        raise ValueError(f"kind must be 'cpu' or 'io', not {kind!r}") from None
