# Catches every exception in the threads and leaves None in its place: the caller never hears of it.
import threading


def thread_map(func, items):
    """Return [func(item) for item in items], each call in a thread of its own; re-raise the earliest item's exception."""
    items = list(items)
    results = [None] * len(items)

    def call(index, item):
        try:
            results[index] = func(item)
        except Exception:
            pass

    threads = [threading.Thread(target=call, args=(i, item)) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
