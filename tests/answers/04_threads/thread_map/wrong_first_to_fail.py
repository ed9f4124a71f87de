# Re-raises the exception that happened first in time, not the one of the earliest item.
# racy: which item's exception happens first (was: item 1 waited at most 1 s for item 3 to start)
import threading


def thread_map(func, items):
    """Return [func(item) for item in items], each call in a thread of its own; re-raise the earliest item's exception."""
    items = list(items)
    results = [None] * len(items)
    errors = []

    def call(index, item):
        try:
            results[index] = func(item)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=call, args=(i, item)) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
