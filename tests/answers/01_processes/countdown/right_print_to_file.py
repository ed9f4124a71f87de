%%writefile countdown.py
"""Exercise D: a Process subclass that counts down into a file."""
import multiprocessing
from pathlib import Path


class Countdown(multiprocessing.Process):
    """A process that writes n, n-1, ..., 1 to the file at path, one number per line."""

    def __init__(self, n: int, path: str) -> None:
        # Prints to the file with a while loop, and keeps the path as a Path.
        multiprocessing.Process.__init__(self)
        self.n = n
        self.path = Path(path)

    def run(self) -> None:
        remaining = self.n
        with self.path.open("w") as file:
            while remaining > 0:
                print(remaining, file=file)
                remaining -= 1
