# Orders the locks by the id of the lock objects and acquires them by hand, releasing in finally.
def transfer(src, dst, amount):
    """Move amount from src to dst atomically, holding both accounts' locks, taken in one global order."""
    locks = sorted([src.lock, dst.lock], key=id)
    for lock in locks:
        lock.acquire()
    try:
        if src.balance < amount:
            raise ValueError(f"only {src.balance} available, {amount} asked")
        src.balance = src.balance - amount
        dst.balance = dst.balance + amount
    finally:
        for lock in reversed(locks):
            lock.release()
