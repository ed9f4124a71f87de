# Counts down to 0 instead of 1.
import threading


class Countdown(threading.Thread):
    """A thread that appends n, n-1, ..., 1 to its list self.numbers."""

    def __init__(self, n: int, name: str | None = None) -> None:
        super().__init__(name=name)
        self.n = n
        self.numbers = []

    def run(self) -> None:
        for number in range(self.n, -1, -1):
            self.numbers.append(number)
