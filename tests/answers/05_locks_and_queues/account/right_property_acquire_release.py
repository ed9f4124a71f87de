# Keeps the money in _balance behind a property; acquire and release by hand, in try/finally.
import threading


class Account:
    """A bank account whose balance is guarded by its own re-entrant lock."""

    def __init__(self, balance=0):
        self.lock = threading.RLock()
        self._balance = balance

    @property
    def balance(self):
        return self._balance

    def deposit(self, amount):
        """Add amount to the balance."""
        self.lock.acquire()
        try:
            self._balance = self._balance + amount
        finally:
            self.lock.release()

    def withdraw(self, amount):
        """Take amount from the balance; raise ValueError, changing nothing, if the balance is short."""
        self.lock.acquire()
        try:
            if self._balance < amount:
                raise ValueError(f"balance {self._balance} is less than {amount}")
            self._balance = self._balance - amount
        finally:
            self.lock.release()
