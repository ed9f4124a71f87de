# Consumers append each result as they finish it, so the results come in completion order.
# racy: the order in which the consumers finish their items
import queue
import threading


def producer_consumer(items, consumers, func):
    """Return [func(item) for item in items], computed by `consumers` threads that take the items from a queue."""
    results = []
    q = queue.Queue(maxsize=4)

    def consume():
        while True:
            item = q.get()
            if item is None:
                q.task_done()
                break
            results.append(func(item))
            q.task_done()

    threads = [threading.Thread(target=consume) for _ in range(consumers)]
    for t in threads:
        t.start()
    for item in items:
        q.put(item)
    q.join()
    for _ in threads:
        q.put(None)
    for t in threads:
        t.join()
    return results
