# Takes the locks in id order by hand, but raises ValueError without releasing them.
def transfer(src, dst, amount):
    """Move amount from src to dst atomically, holding both accounts' locks, taken in one global order."""
    first, second = (src, dst) if id(src) < id(dst) else (dst, src)
    first.lock.acquire()
    second.lock.acquire()
    if src.balance < amount:
        raise ValueError("insufficient funds")
    src.balance -= amount
    dst.balance += amount
    second.lock.release()
    first.lock.release()
