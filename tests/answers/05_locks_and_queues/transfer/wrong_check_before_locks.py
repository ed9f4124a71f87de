# Checks the source's balance before taking the locks (check-then-act), then moves the money under them.
# racy: whether two transfers both pass the check before either takes the locks
def transfer(src, dst, amount):
    """Move amount from src to dst atomically, holding both accounts' locks, taken in one global order."""
    if amount > src.balance:
        raise ValueError("insufficient funds")
    first, second = sorted([src, dst], key=id)
    with first.lock:
        with second.lock:
            src.balance -= amount
            dst.balance += amount
