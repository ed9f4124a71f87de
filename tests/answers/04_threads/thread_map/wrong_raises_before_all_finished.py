# Checks each thread's exception as soon as it is joined, so it raises while later threads still run.
# racy: whether the other calls still run when it raises (was: they slept 1 s)
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
    for index, thread in enumerate(threads):
        thread.join()
        if errors[index] is not None:
            raise errors[index]
    return results
