# Daemon consumers loop forever; the function returns after join() without stopping them.
import queue
import threading


def producer_consumer(items, consumers, func):
    """Return [func(item) for item in items], computed by `consumers` threads that take the items from a queue."""
    items = list(items)
    results = [None] * len(items)
    q = queue.Queue(maxsize=4)

    def consume():
        while True:
            index, item = q.get()
            results[index] = func(item)
            q.task_done()

    for _ in range(consumers):
        threading.Thread(target=consume, daemon=True).start()
    for index, item in enumerate(items):
        q.put((index, item))
    q.join()
    return results
