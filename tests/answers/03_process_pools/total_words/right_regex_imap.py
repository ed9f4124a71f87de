# %% cell: word_count
%%writefile pool_tasks.py
"""Exercise E: a task for pool workers, in a module they can import."""
import re


def word_count(text: str) -> int:
    """The number of whitespace-separated words in `text`."""
    # Counts the runs of non-whitespace characters.
    return len(re.findall(r"\S+", text))

# %% cell: total_words
import multiprocessing

from pool_tasks import word_count


def total_words(texts, processes):
    """The total number of words in `texts`, counted by pool_tasks.word_count in a pool of `processes` workers."""
    # imap over the texts, adding as the counts arrive; then close and join.
    pool = multiprocessing.Pool(processes)
    total = 0
    for count in pool.imap(word_count, texts):
        total += count
    pool.close()
    pool.join()
    return total
