# Overrides start() to count in the caller before starting a thread that does nothing.
import threading


class Countdown(threading.Thread):
    """A thread that appends n, n-1, ..., 1 to its list self.numbers."""

    def __init__(self, n: int, name: str | None = None) -> None:
        super().__init__(name=name)
        self.n = n
        self.numbers = []

    def start(self) -> None:
        for number in range(self.n, 0, -1):
            self.numbers.append(number)
        super().start()

    def run(self) -> None:
        pass
