import multiprocessing

from course import workers


def echo_roundtrip(messages):
    """Send each message to an upper_echo process through a Pipe and collect its replies; stop and join it."""
    # Gives the child the first end, waits for each reply with poll, and closes everything in a finally.
    context = multiprocessing.get_context()
    child_end, my_end = context.Pipe(duplex=True)
    echo = context.Process(target=workers.upper_echo, args=(child_end,), name="echo")
    echo.start()
    replies = []
    try:
        for text in messages:
            my_end.send(text)
            if not my_end.poll(60):
                raise TimeoutError("no reply from the echo process")
            replies.append(my_end.recv())
    finally:
        my_end.send(None)
        echo.join(timeout=60)
        my_end.close()
        child_end.close()
    return replies
