# A Thread subclass whose run() keeps the name it reads; the caller collects them in order.
import threading


class NameReader(threading.Thread):
    def run(self):
        self.seen = threading.current_thread().name


def thread_names(n: int, prefix: str) -> list[str]:
    """Start n threads named prefix-0, prefix-1, ...; return the names they read from inside themselves, in order."""
    readers = [NameReader(name=f"{prefix}-{i}") for i in range(n)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    return [reader.seen for reader in readers]
