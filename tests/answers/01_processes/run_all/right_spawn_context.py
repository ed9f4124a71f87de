import multiprocessing


def run_all(target, args_list):
    """Run target(*args) in one process per tuple in args_list, all at once; return their exit codes in order."""
    # Starts every process with the spawn method, whatever the default is.
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=target, args=args) for args in args_list]
    for process in processes:
        process.start()
    return [process.join() or process.exitcode for process in processes]
