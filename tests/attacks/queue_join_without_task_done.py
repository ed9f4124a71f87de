"""q.join() without task_done: the consumer takes every item but never marks one done."""

CELLS = {
    "square": '''import queue
import threading


def square(x):
    """Return x * x."""
    jobs, results = queue.Queue(), []

    def consume():
        while True:
            results.append(jobs.get() ** 2)

    threading.Thread(target=consume, daemon=True).start()
    jobs.put(x)
    jobs.join()  # never returns: nobody calls task_done
    return results[0]''',
}
HONEST = ["double", "add"]
TARGETS = ["test_square"]
KEEPS = ["test_double", "test_add"]
BOUND = 120
