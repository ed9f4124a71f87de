# %% cell: account
# An Account with a plain Lock, and a transfer that holds both accounts' locks and calls withdraw and deposit, which take them again: it deadlocks on the student's own accounts.
# racy: whether a thread waits forever for a lock it holds (was: never tried, the tests used their own accounts)
import threading


class Account:
    """A bank account whose balance is guarded by its own re-entrant lock."""

    def __init__(self, balance=0):
        self.balance = balance
        self.lock = threading.Lock()

    def deposit(self, amount):
        """Add amount to the balance."""
        with self.lock:
            self.balance += amount

    def withdraw(self, amount):
        """Take amount from the balance; raise ValueError, changing nothing, if the balance is short."""
        with self.lock:
            if amount > self.balance:
                raise ValueError("insufficient funds")
            self.balance -= amount
# %% cell: transfer
def transfer(src, dst, amount):
    """Move amount from src to dst atomically, holding both accounts' locks, taken in one global order."""
    first, second = sorted((src, dst), key=id)
    with first.lock, second.lock:
        src.withdraw(amount)
        dst.deposit(amount)
