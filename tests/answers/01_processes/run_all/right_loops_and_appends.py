import multiprocessing


def run_all(target, args_list):
    """Run target(*args) in one process per tuple in args_list, all at once; return their exit codes in order."""
    # Builds the list with appends, and reads each exit code right after its join.
    processes = []
    for args in args_list:
        processes.append(multiprocessing.Process(target=target, args=tuple(args)))
    for process in processes:
        process.start()
    exit_codes = []
    for process in processes:
        process.join()
        exit_codes.append(process.exitcode)
    return exit_codes
