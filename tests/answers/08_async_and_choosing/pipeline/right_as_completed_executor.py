# Semaphore-limited download tasks taken from asyncio.as_completed; each body goes to loop.run_in_executor as it arrives; pool shut down in a finally.
# racy: whether 2 requests reach the gated server within its 3 s, and a count is submitted within 5 s while one download is held
import asyncio
import concurrent.futures

import course.net
import course.workers


async def pipeline(urls, download_limit, processes):
    """Download the urls (at most `download_limit` at once) and count each body's words in a pool of `processes` processes as it arrives; return {url: words}."""
    limit = asyncio.Semaphore(download_limit)

    async def download(url):
        async with limit:
            return url, await course.net.fetch_async(url)

    loop = asyncio.get_running_loop()
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=processes)
    downloads = [asyncio.create_task(download(url)) for url in urls]
    counting = {}
    try:
        for arrival in asyncio.as_completed(downloads):
            url, body = await arrival
            counting[url] = loop.run_in_executor(pool, course.workers.count_words, body)
        counts = await asyncio.gather(*counting.values())
        return dict(zip(counting, counts))
    finally:
        for task in downloads:
            task.cancel()
        await asyncio.gather(*downloads, *counting.values(), return_exceptions=True)
        pool.shutdown(wait=True, cancel_futures=True)
