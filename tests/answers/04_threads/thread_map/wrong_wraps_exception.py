# Raises a new RuntimeError around the earliest item's exception instead of that exception itself.
import threading


def thread_map(func, items):
    """Return [func(item) for item in items], each call in a thread of its own; re-raise the earliest item's exception."""
    items = list(items)
    results = [None] * len(items)
    errors = [None] * len(items)

    def call(index, item):
        try:
            results[index] = func(item)
        except Exception as error:
            errors[index] = error

    threads = [threading.Thread(target=call, args=(i, item)) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, error in enumerate(errors):
        if error is not None:
            raise RuntimeError(f"thread_map: item {index} failed") from error
    return results
