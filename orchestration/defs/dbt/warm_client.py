"""`dbt <args>` for dagster-dbt, run by a dbt process started ahead (see `executable.py`).

Usage: python -I -S warm_client.py SOCKET DBT_EXECUTABLE ARGS...

Hands its arguments, working folder, environment and standard streams to the
server listening on SOCKET, forwards SIGINT and SIGTERM to it, and exits with
its exit code once its process has ended. With no server to take the command
(it ended, never started, or ended before it took the command) it becomes
`DBT_EXECUTABLE ARGS...`. Standard library only: it starts in milliseconds.
"""

import json
import os
import signal
import socket
import sys
from typing import BinaryIO


def _standard_streams() -> list[int]:
    """Descriptors 0, 1 and 2, a closed one replaced by /dev/null (as dbt would run)."""
    streams = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            streams.append(fd)
        except OSError:
            streams.append(os.open(os.devnull, os.O_RDWR))
    return streams


def _hand_over(path: str, args: list[str]) -> tuple[BinaryIO, int] | None:
    """The server's replies and its process once it took the command; None when no
    server took it (nothing ran yet)."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
        request = json.dumps({"args": args, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        message = f"{len(request)}\n".encode() + request
        sent = socket.send_fds(connection, [message], _standard_streams())
        connection.sendall(message[sent:])  # a stream may take a large environment in parts
        replies = connection.makefile("rb")
        started = replies.readline()
    except OSError:  # refused, or reset by a server that ended while the command waited
        return None
    return (replies, int(started)) if started else None


def main(path: str, executable: str, args: list[str]) -> int:
    # Signals are for dbt: held until its process is known, then passed on to it.
    server, held = [], []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda received, _frame: os.kill(server[0], received) if server else held.append(received))
    taken = _hand_over(path, args)
    if taken is None:
        if held:
            return 128 + held[0]
        os.execv(executable, [executable, *args])
    replies, pid = taken
    server.append(pid)
    for received in held:
        os.kill(pid, received)
    try:
        code = replies.readline().strip()
        replies.read()  # until the server's process has ended
    except OSError:  # the server crashed
        code = b""
    if not code:
        print(f"dbt (process {pid}) ended without an exit code", file=sys.stderr)
        return 2
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
