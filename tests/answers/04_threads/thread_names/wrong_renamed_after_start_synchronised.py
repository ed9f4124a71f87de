# Names each thread after starting it, holding the thread back until then, so the values come out right but the names were given too late.
import threading


def thread_names(n: int, prefix: str) -> list[str]:
    """Start n threads named prefix-0, prefix-1, ...; return the names they read from inside themselves, in order."""
    names = [None] * n
    ready = [threading.Event() for _ in range(n)]

    def record(i):
        ready[i].wait(5)
        names[i] = threading.current_thread().name

    threads = []
    for i in range(n):
        thread = threading.Thread(target=record, args=(i,))
        thread.start()
        thread.name = f"{prefix}-{i}"
        ready[i].set()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return names
