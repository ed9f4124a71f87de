# Results and exceptions in dicts keyed by position; the earliest failure is the smallest key.
import threading


def thread_map(func, items):
    """Return [func(item) for item in items], each call in a thread of its own; re-raise the earliest item's exception."""
    results, errors = {}, {}

    def work(position, item):
        try:
            results[position] = func(item)
        except Exception as exc:
            errors[position] = exc

    threads = []
    for position, item in enumerate(items):
        thread = threading.Thread(target=work, args=(position, item), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[min(errors)]
    return [results[position] for position in range(len(threads))]
