%%writefile countdown.py
"""Exercise D: a Process subclass that counts down into a file."""
import multiprocessing


class Countdown(multiprocessing.Process):
    """A process that writes n, n-1, ..., 1 to the file at path, one number per line."""

    def __init__(self, n: int, path: str) -> None:
        super().__init__()
        self.n = n
        self.path = path

    def run(self) -> None:
        # Counts from n-1 down to 0 instead of from n down to 1.
        with open(self.path, "w") as file:
            for number in reversed(range(self.n)):
                file.write(f"{number}\n")
