# Refuses early without the lock when the money is plainly short, but checks again under the lock before taking it.
from threading import RLock


class Account:
    """A bank account whose balance is guarded by its own re-entrant lock."""

    def __init__(self, balance=0):
        self.balance = balance
        self.lock = RLock()

    def deposit(self, amount):
        """Add amount to the balance."""
        with self.lock:
            new_balance = self.balance + amount
            self.balance = new_balance

    def withdraw(self, amount):
        """Take amount from the balance; raise ValueError, changing nothing, if the balance is short."""
        if amount > self.balance:  # a quick hint only: decided for real below
            raise ValueError("insufficient funds")
        with self.lock:
            if amount > self.balance:
                raise ValueError("insufficient funds")
            self.balance = self.balance - amount
