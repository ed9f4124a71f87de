# Consumers stop when get() times out on an empty queue instead of on a sentinel.
# racy: whether a consumer's get(timeout=0.2) runs out before the producer puts the next item
import queue
import threading


def producer_consumer(items, consumers, func):
    """Return [func(item) for item in items], computed by `consumers` threads that take the items from a queue."""
    items = list(items)
    results = [None] * len(items)
    q = queue.Queue(maxsize=4)

    def consume():
        while True:
            try:
                index, item = q.get(timeout=0.2)
            except queue.Empty:
                return
            results[index] = func(item)
            q.task_done()

    threads = [threading.Thread(target=consume) for _ in range(consumers)]
    for t in threads:
        t.start()
    for index, item in enumerate(items):
        q.put((index, item))
    q.join()
    for t in threads:
        t.join()
    return results
