"""`dbt <args>` for dagster-dbt, run by a dbt process started ahead (see `executable.py`).

Usage: python -I -S warm_client.py SOCKET DBT_EXECUTABLE ARGS...

Hands its arguments, working folder, environment and standard streams to the
server listening on SOCKET, forwards SIGINT and SIGTERM to it, and exits with
its exit code once its process has ended. With no server there (it ended, or
never started, or ended before it took the command) it becomes
`DBT_EXECUTABLE ARGS...`. Standard library only: it starts in milliseconds.
"""

import json
import os
import signal
import socket
import sys


def main(path: str, executable: str, args: list[str]) -> int:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
    except OSError:
        os.execv(executable, [executable, *args])
    # Signals are for dbt: held until its process is known, then passed on to it.
    server, held = [], []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda received, _frame: os.kill(server[0], received) if server else held.append(received))
    request = json.dumps({"args": args, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    socket.send_fds(connection, [request], [0, 1, 2])
    replies = connection.makefile("r")
    started = replies.readline()
    if not started:  # the server ended before it took the command: nothing ran yet
        if held:
            return 128 + held[0]
        os.execv(executable, [executable, *args])
    server.append(int(started))
    for received in held:
        os.kill(server[0], received)
    code = replies.readline().strip()
    replies.read()  # until the server's process has ended
    if not code:
        print(f"dbt (process {server[0]}) ended without an exit code", file=sys.stderr)
        return 2
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
