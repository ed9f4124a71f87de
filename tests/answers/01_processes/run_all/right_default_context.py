import multiprocessing


def run_all(target, args_list):
    """Run target(*args) in one process per tuple in args_list, all at once; return their exit codes in order."""
    # Goes through the default context and names each process.
    context = multiprocessing.get_context()
    processes = [
        context.Process(target=target, args=args, name=f"run_all-{i}") for i, args in enumerate(args_list)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    return list(map(lambda p: p.exitcode, processes))
