from multiprocessing import Pipe, Process

from course.workers import upper_echo


def echo_roundtrip(messages):
    """Send each message to an upper_echo process through a Pipe and collect its replies; stop and join it."""
    # One round trip per message inside a list comprehension.
    parent_conn, child_conn = Pipe()
    p = Process(target=upper_echo, args=(child_conn,))
    p.start()
    replies = [parent_conn.send(m) or parent_conn.recv() for m in messages]
    parent_conn.send(None)
    p.join()
    return replies
