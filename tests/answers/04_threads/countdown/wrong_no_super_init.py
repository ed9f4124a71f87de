# Forgets super().__init__(), so the Thread machinery (and the name) is never set up.
import threading


class Countdown(threading.Thread):
    """A thread that appends n, n-1, ..., 1 to its list self.numbers."""

    def __init__(self, n: int, name: str | None = None) -> None:
        self.n = n
        self.numbers = []

    def run(self) -> None:
        for number in range(self.n, 0, -1):
            self.numbers.append(number)
