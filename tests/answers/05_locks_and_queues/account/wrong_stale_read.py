# Reads the balance before taking the lock and writes back what it computed from that stale value.
# racy: whether another thread writes between the unlocked read and the locked write
import threading


class Account:
    """A bank account whose balance is guarded by its own re-entrant lock."""

    def __init__(self, balance=0):
        self.balance = balance
        self.lock = threading.RLock()

    def deposit(self, amount):
        """Add amount to the balance."""
        current = self.balance
        with self.lock:
            self.balance = current + amount

    def withdraw(self, amount):
        """Take amount from the balance; raise ValueError, changing nothing, if the balance is short."""
        current = self.balance
        with self.lock:
            if amount > current:
                raise ValueError("insufficient funds")
            self.balance = current - amount
