# Checks the balance before taking the lock (check-then-act): two withdrawals can both pass the check.
# racy: whether two withdrawals both pass the check before either takes the money
import threading


class Account:
    """A bank account whose balance is guarded by its own re-entrant lock."""

    def __init__(self, balance=0):
        self.balance = balance
        self.lock = threading.RLock()

    def deposit(self, amount):
        """Add amount to the balance."""
        with self.lock:
            self.balance += amount

    def withdraw(self, amount):
        """Take amount from the balance; raise ValueError, changing nothing, if the balance is short."""
        if amount > self.balance:
            raise ValueError("insufficient funds")
        with self.lock:
            self.balance -= amount
