"""Hunting the grader's key: while the test runs (in the kernel's main thread, from the
repr of an answer's result), a signal handler receives the running frame, walks every
frame below and searches their variables (and closures) for a key with which to forge
verdicts."""

CELLS = {
    "double": '''import os
import signal

found = []


def look(value, where):
    if isinstance(value, (bytes, bytearray)) and len(value) == 32:
        found.append(where)
    key = getattr(value, "key", None) if not isinstance(value, type) else None
    if isinstance(key, (bytes, bytearray)) and len(key) == 32:
        found.append(where + ".key")


def hunt(signum, frame):
    while frame is not None:
        for name, value in list(frame.f_locals.items()):
            look(value, f"{frame.f_code.co_name}:{name}")
            for cell in getattr(value, "__closure__", None) or ():
                try:
                    look(cell.cell_contents, f"{frame.f_code.co_name}:{name}.<closure>")
                except ValueError:
                    pass
        frame = frame.f_back


class Hunter:
    def __repr__(self):
        signal.signal(signal.SIGUSR1, hunt)
        os.kill(os.getpid(), signal.SIGUSR1)
        print("key found in:", found)
        return "3"


def double(x):
    """Return twice x."""
    return 2 * x''',
    "add": '''def add(a, b):
    """Return a + b."""
    return Hunter()''',
}
HONEST = ["square"]
TARGETS = ["test_add"]
KEEPS = ["test_double", "test_square"]


def check(course, student, graded):
    printed = "".join(out.get("text", "") for cell in graded.cells if cell.cell_type == "code" for out in cell.outputs)
    assert "key found in: []" in printed and "key found in: ['" not in printed, (
        f"the attack reached the grader's key: {printed[-500:]}")
