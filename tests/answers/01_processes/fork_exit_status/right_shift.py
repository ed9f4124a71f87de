import os


def fork_exit_status(code: int) -> int:
    """Fork a child that exits at once with `code`; wait for it and return its exit code."""
    # Decodes the status by hand (the exit code is its second byte).
    if isinstance(code, int) and 0 <= code < 256:
        pid = os.fork()
        if not pid:
            os._exit(code)
        status = os.waitpid(pid, 0)[1]
        return (status >> 8) & 0xFF
    raise ValueError(f"{code} is not an exit code")
