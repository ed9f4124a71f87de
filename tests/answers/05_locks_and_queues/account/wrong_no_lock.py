# Makes the lock but never takes it: deposit and withdraw change the balance unguarded.
# racy: whether two threads' read-and-write of the balance overlap, so that an update is lost
import threading


class Account:
    """A bank account whose balance is guarded by its own re-entrant lock."""

    def __init__(self, balance=0):
        self.balance = balance
        self.lock = threading.RLock()

    def deposit(self, amount):
        """Add amount to the balance."""
        self.balance += amount

    def withdraw(self, amount):
        """Take amount from the balance; raise ValueError, changing nothing, if the balance is short."""
        if amount > self.balance:
            raise ValueError("insufficient funds")
        self.balance -= amount
