%%writefile countdown.py
"""Exercise D: a Process subclass that counts down into a file."""
import multiprocessing


class Countdown(multiprocessing.Process):
    """A process that writes n, n-1, ..., 1 to the file at path, one number per line."""

    def __init__(self, n: int, path: str) -> None:
        # Forgets super().__init__(), so the Process machinery is never set up.
        self.n = n
        self.path = path

    def run(self) -> None:
        with open(self.path, "w") as file:
            for number in range(self.n, 0, -1):
                file.write(f"{number}\n")
