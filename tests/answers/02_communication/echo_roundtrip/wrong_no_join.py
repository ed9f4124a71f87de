import multiprocessing

from course.workers import upper_echo


def echo_roundtrip(messages):
    """Send each message to an upper_echo process through a Pipe and collect its replies; stop and join it."""
    # Sends None but returns without joining the process.
    here, there = multiprocessing.Pipe()
    process = multiprocessing.Process(target=upper_echo, args=(there,))
    process.start()
    replies = []
    for message in messages:
        here.send(message)
        replies.append(here.recv())
    here.send(None)
    return replies
