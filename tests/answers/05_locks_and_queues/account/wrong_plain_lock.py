# Uses a plain Lock, which transfer cannot take again while it holds it (it needs an RLock).
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
