import os


def fork_exit_status(code: int) -> int:
    """Fork a child that exits at once with `code`; wait for it and return its exit code."""
    # Returns the code it asked for without waiting: the child is never reaped.
    if not 0 <= code <= 255:
        raise ValueError(code)
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    return code
