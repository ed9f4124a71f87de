# Consumers never call task_done(), so the queue's join() waits forever.
import queue
import threading


def producer_consumer(items, consumers, func):
    """Return [func(item) for item in items], computed by `consumers` threads that take the items from a queue."""
    items = list(items)
    results = [None] * len(items)
    q = queue.Queue(maxsize=4)

    def consume():
        while True:
            task = q.get()
            if task is None:
                break
            index, item = task
            results[index] = func(item)

    threads = [threading.Thread(target=consume) for _ in range(consumers)]
    for t in threads:
        t.start()
    for index, item in enumerate(items):
        q.put((index, item))
    q.join()
    for _ in threads:
        q.put(None)
    for t in threads:
        t.join()
    return results
