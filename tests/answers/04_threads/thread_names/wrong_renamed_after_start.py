# Names each thread only after starting it, so a thread may read its old default name.
import threading


def thread_names(n: int, prefix: str) -> list[str]:
    """Start n threads named prefix-0, prefix-1, ...; return the names they read from inside themselves, in order."""
    names = [None] * n

    def record(i):
        names[i] = threading.current_thread().name

    threads = []
    for i in range(n):
        thread = threading.Thread(target=record, args=(i,))
        thread.start()
        thread.name = f"{prefix}-{i}"
        threads.append(thread)
    for thread in threads:
        thread.join()
    return names
