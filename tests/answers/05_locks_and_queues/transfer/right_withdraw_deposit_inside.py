# Holds both locks in id order and calls withdraw and deposit inside, which take the (re-entrant) locks again.
def transfer(src, dst, amount):
    """Move amount from src to dst atomically, holding both accounts' locks, taken in one global order."""
    ordered = sorted((src, dst), key=lambda account: id(account))
    with ordered[0].lock:
        with ordered[1].lock:
            src.withdraw(amount)
            dst.deposit(amount)
