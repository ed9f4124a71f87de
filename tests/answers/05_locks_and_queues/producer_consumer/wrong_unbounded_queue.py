# Makes an unbounded queue.Queue() instead of queue.Queue(maxsize=4).
import queue
import threading


def producer_consumer(items, consumers, func):
    """Return [func(item) for item in items], computed by `consumers` threads that take the items from a queue."""
    items = list(items)
    results = [None] * len(items)
    q = queue.Queue()

    def consume():
        while True:
            task = q.get()
            if task is None:
                q.task_done()
                return
            index, item = task
            results[index] = func(item)
            q.task_done()

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
