# Awaits each asyncio.to_thread call before starting the next: one call at a time.
import asyncio


async def run_blocking(funcs):
    """Run each blocking zero-argument callable in a thread with asyncio.to_thread, all at once; return the results in order."""
    return [await asyncio.to_thread(func) for func in funcs]
