# Each thread stores its name under its index in a dict, under a lock; the caller sorts by index.
import threading


def thread_names(n: int, prefix: str) -> list[str]:
    """Start n threads named prefix-0, prefix-1, ...; return the names they read from inside themselves, in order."""
    seen = {}
    lock = threading.Lock()

    def record(index):
        name = threading.current_thread().name
        with lock:
            seen[index] = name

    threads = []
    for i in range(n):
        thread = threading.Thread(target=record, args=(i,))
        thread.name = f"{prefix}-{i}"  # named before it starts
        threads.append(thread)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return [seen[i] for i in sorted(seen)]
