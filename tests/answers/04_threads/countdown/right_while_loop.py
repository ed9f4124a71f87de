# Passes name positionally to Thread.__init__ (after group=None, target=None) and counts down with a while loop.
import threading


class Countdown(threading.Thread):
    """A thread that appends n, n-1, ..., 1 to its list self.numbers."""

    def __init__(self, n: int, name: str | None = None) -> None:
        threading.Thread.__init__(self, None, None, name)
        self.numbers = list()
        self.n = n

    def run(self) -> None:
        n = self.n
        while n > 0:
            self.numbers.append(n)
            n -= 1
