# Appends each name as its thread runs, so the names come in the order the threads finish.
# racy: the order in which the threads finish (was: each thread waited at most 1 s for the next to start)
import threading


def thread_names(n: int, prefix: str) -> list[str]:
    """Start n threads named prefix-0, prefix-1, ...; return the names they read from inside themselves, in order."""
    names = []

    def record():
        names.append(threading.current_thread().name)

    threads = [threading.Thread(target=record, name=f"{prefix}-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return names
