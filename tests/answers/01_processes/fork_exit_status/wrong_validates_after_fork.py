import os


def fork_exit_status(code: int) -> int:
    """Fork a child that exits at once with `code`; wait for it and return its exit code."""
    # Forks first and checks the code only afterwards.
    pid = os.fork()
    if pid == 0:
        os._exit(code & 0xFF)
    _, status = os.waitpid(pid, 0)
    if not 0 <= code <= 255:
        raise ValueError(code)
    return os.waitstatus_to_exitcode(status)
