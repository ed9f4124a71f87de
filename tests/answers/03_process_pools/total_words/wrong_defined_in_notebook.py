# %% cell: word_count
# Drops the %%writefile line, so word_count lives in the notebook and pool_tasks.py is never written.
def word_count(text: str) -> int:
    """The number of whitespace-separated words in `text`."""
    return len(text.split())

# %% cell: total_words
from multiprocessing import Pool


def total_words(texts, processes):
    """The total number of words in `texts`, counted by pool_tasks.word_count in a pool of `processes` workers."""
    with Pool(processes) as pool:
        return sum(pool.map(word_count, texts))
