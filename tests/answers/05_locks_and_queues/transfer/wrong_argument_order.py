# Takes the locks in argument order, src first: opposite transfers at once deadlock.
# racy: whether opposite transfers each take their first lock before either takes its second
def transfer(src, dst, amount):
    """Move amount from src to dst atomically, holding both accounts' locks, taken in one global order."""
    with src.lock, dst.lock:
        if amount > src.balance:
            raise ValueError("insufficient funds")
        src.balance -= amount
        dst.balance += amount
