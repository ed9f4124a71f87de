# None as the sentinel, iter(q.get, None) as the consumer loop, results in a dict keyed by position.
import queue
import threading


def producer_consumer(items, consumers, func):
    """Return [func(item) for item in items], computed by `consumers` threads that take the items from a queue."""
    q = queue.Queue(maxsize=4)
    done = {}

    def consumer():
        for position, item in iter(q.get, None):
            done[position] = func(item)
            q.task_done()
        q.task_done()  # for the sentinel

    workers = []
    for _ in range(consumers):
        worker = threading.Thread(target=consumer)
        worker.start()
        workers.append(worker)
    count = 0
    for position, item in enumerate(items):
        q.put((position, item))
        count += 1
    q.join()
    for _ in workers:
        q.put(None)
    for worker in workers:
        worker.join()
    return [done[position] for position in range(count)]
