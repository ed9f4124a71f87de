import multiprocessing
import time


def run_all(target, args_list):
    """Run target(*args) in one process per tuple in args_list, all at once; return their exit codes in order."""
    # Collects the exit codes in the order the processes finish.
    running = [multiprocessing.Process(target=target, args=args) for args in args_list]
    for process in running:
        process.start()
    codes = []
    while running:
        for process in list(running):
            if not process.is_alive():
                process.join()
                codes.append(process.exitcode)
                running.remove(process)
        time.sleep(0.01)
    return codes
