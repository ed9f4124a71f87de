# Passes name by keyword and extends the list with a whole range at once.
import threading


class Countdown(threading.Thread):
    """A thread that appends n, n-1, ..., 1 to its list self.numbers."""

    def __init__(self, n: int, name: str | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self.n = n
        self.numbers: list[int] = []

    def run(self) -> None:
        self.numbers.extend(range(self.n, 0, -1))
