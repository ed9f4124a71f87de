# A Thread subclass per consumer that keeps its (index, result) pairs; the caller merges them in order.
import queue
import threading

_DONE = object()


class Consumer(threading.Thread):
    def __init__(self, tasks, func):
        super().__init__(daemon=True)
        self.tasks, self.func, self.done = tasks, func, []

    def run(self):
        while (task := self.tasks.get()) is not _DONE:
            self.done.append((task[0], self.func(task[1])))
            self.tasks.task_done()
        self.tasks.task_done()


def producer_consumer(items, consumers, func):
    """Return [func(item) for item in items], computed by `consumers` threads that take the items from a queue."""
    tasks = queue.Queue(maxsize=4)
    workers = [Consumer(tasks, func) for _ in range(consumers)]
    for worker in workers:
        worker.start()
    for task in enumerate(items):
        tasks.put(task)
    tasks.join()
    for _ in workers:
        tasks.put(_DONE)
    for worker in workers:
        worker.join()
    return [result for _, result in sorted(pair for worker in workers for pair in worker.done)]
