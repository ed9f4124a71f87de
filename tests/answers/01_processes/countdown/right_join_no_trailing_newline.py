%%writefile countdown.py
"""Exercise D: a Process subclass that counts down into a file."""
import multiprocessing


class Countdown(multiprocessing.Process):
    """A process that writes n, n-1, ..., 1 to the file at path, one number per line."""

    def __init__(self, n: int, path: str) -> None:
        # Other attribute names, a process name, and one write without a final newline.
        super().__init__(name=f"countdown-{n}")
        self._start_at = n
        self._out = path

    def run(self) -> None:
        numbers = [str(k) for k in range(1, self._start_at + 1)][::-1]
        with open(self._out, "w", encoding="utf-8") as out:
            out.write("\n".join(numbers))
