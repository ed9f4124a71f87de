# Moves the whole loop over funcs into one asyncio.to_thread call: one thread runs the calls one after another.
import asyncio


async def run_blocking(funcs):
    """Run each blocking zero-argument callable in a thread with asyncio.to_thread, all at once; return the results in order."""
    return await asyncio.to_thread(lambda: [func() for func in funcs])
