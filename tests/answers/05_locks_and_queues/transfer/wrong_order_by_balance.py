# Orders the two locks by balance, which is no global order: equal balances keep argument order, and balances change.
# racy: whether opposite transfers each take their first lock before either takes its second
def transfer(src, dst, amount):
    """Move amount from src to dst atomically, holding both accounts' locks, taken in one global order."""
    first, second = sorted([src, dst], key=lambda account: account.balance)
    with first.lock:
        with second.lock:
            if amount > src.balance:
                raise ValueError("insufficient funds")
            src.balance -= amount
            dst.balance += amount
