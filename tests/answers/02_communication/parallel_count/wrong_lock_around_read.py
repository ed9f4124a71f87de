# %% cell: add_many
%%writefile tally.py
# Holds the lock only while it reads, and writes after releasing it: another process can read the old value in between.
# racy: whether another process reads between the locked read and the unlocked write
"""Exercise C: add to a shared counter without losing updates."""


def add_many(counter, lock, times):
    """Add 1 to counter.value, times times, each addition while holding lock."""
    for _ in range(times):
        with lock:
            current = counter.value
        counter.value = current + 1
