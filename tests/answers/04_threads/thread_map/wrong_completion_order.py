# Appends each result as its thread finishes, so the results come in completion order.
# racy: the order in which the threads finish (was: each call waited at most 1 s for the next to start; the barrier test judged the order too)
import threading


def thread_map(func, items):
    """Return [func(item) for item in items], each call in a thread of its own; re-raise the earliest item's exception."""
    items = list(items)
    results = []
    errors = [None] * len(items)

    def call(index, item):
        try:
            results.append(func(item))
        except Exception as error:
            errors[index] = error

    threads = [threading.Thread(target=call, args=(i, item)) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results
