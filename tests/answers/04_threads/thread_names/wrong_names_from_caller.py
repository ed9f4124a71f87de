# The threads read their names, but the caller returns names it computed itself.
import threading


def thread_names(n: int, prefix: str) -> list[str]:
    """Start n threads named prefix-0, prefix-1, ...; return the names they read from inside themselves, in order."""
    threads = [threading.Thread(target=lambda: None, name=f"{prefix}-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [f"{prefix}-{i}" for i in range(n)]
