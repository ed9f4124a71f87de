import os


def fork_exit_status(code: int) -> int:
    """Fork a child that exits at once with `code`; wait for it and return its exit code."""
    # An off-by-one range check: rejects 0, a valid exit code.
    if not 0 < code < 256:
        raise ValueError(code)
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
