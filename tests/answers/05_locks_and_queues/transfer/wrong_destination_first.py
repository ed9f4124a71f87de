# Locks the receiving account first, then the source: opposite transfers at once each hold one lock and wait for the other.
# racy: whether opposite transfers each take their first lock before either takes its second
def transfer(src, dst, amount):
    """Move amount from src to dst atomically, holding both accounts' locks, taken in one global order."""
    with dst.lock:
        with src.lock:
            if src.balance < amount:
                raise ValueError(f"cannot move {amount} out of {src.balance}")
            dst.balance += amount
            src.balance -= amount
