# Drops the %%writefile line, so the class lives in the notebook and no countdown.py exists.
import multiprocessing


class Countdown(multiprocessing.Process):
    """A process that writes n, n-1, ..., 1 to the file at path, one number per line."""

    def __init__(self, n: int, path: str) -> None:
        super().__init__()
        self.n = n
        self.path = path

    def run(self) -> None:
        with open(self.path, "w") as file:
            for number in range(self.n, 0, -1):
                file.write(f"{number}\n")
