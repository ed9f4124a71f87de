# A Thread subclass that keeps its own result or exception; the caller scans them in order.
import threading


class _Call(threading.Thread):
    def __init__(self, func, item):
        super().__init__()
        self.func, self.item = func, item
        self.result = self.error = None

    def run(self):
        try:
            self.result = self.func(self.item)
        except Exception as exc:
            self.error = exc


def thread_map(func, items):
    """Return [func(item) for item in items], each call in a thread of its own; re-raise the earliest item's exception."""
    calls = [_Call(func, item) for item in items]
    for call in calls:
        call.start()
    for call in calls:
        call.join()
    failed = [call.error for call in calls if call.error is not None]
    if failed:
        raise failed[0]
    return [call.result for call in calls]
