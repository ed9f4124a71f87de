import os


def fork_exit_status(code: int) -> int:
    """Fork a child that exits at once with `code`; wait for it and return its exit code."""
    # Uses os.wait in a loop and the WEXITSTATUS macro instead of waitpid and waitstatus_to_exitcode.
    if code not in range(256):
        raise ValueError("exit codes go from 0 to 255")
    child = os.fork()
    if child == 0:
        try:
            pass
        finally:
            os._exit(code)
    while True:
        pid, status = os.wait()
        if pid == child:
            break
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return -os.WTERMSIG(status)
