# Makes the numbers list in run(), so a Countdown has no numbers until it has run.
import threading


class Countdown(threading.Thread):
    """A thread that appends n, n-1, ..., 1 to its list self.numbers."""

    def __init__(self, n: int, name: str | None = None) -> None:
        super().__init__(name=name)
        self.n = n

    def run(self) -> None:
        self.numbers = []
        for number in range(self.n, 0, -1):
            self.numbers.append(number)
