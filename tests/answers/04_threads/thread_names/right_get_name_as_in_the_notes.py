# Records the name with the deprecated getName(), as the notes do, into a list indexed by i.
import threading


def thread_names(n, prefix):
    """Start n threads named f"{prefix}-{i}"; return the names each recorded from inside itself, in i order."""
    names = [None] * n

    def record(i):
        names[i] = threading.current_thread().getName()

    threads = [threading.Thread(target=record, args=(i,), name=f"{prefix}-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return names
