"""A dbt process started ahead of its command (see `executable.py`): run as a script by path.

Usage: python warm_server.py LISTENING_FD PARENT_PID

Its socket is bound and listening before it starts (its parent passes the descriptor),
so a client may connect while it still imports dbt. It then runs the one command the
client sends as `dbt <args>` would, with the client's working folder, environment and
standard streams, and answers with the exit code. Standard library and dbt only:
nothing of the project is imported into dbt's process.
"""

import json
import os
import socket
import sys
import time

# How long a server waits for its command before it gives up (its `journey run`
# normally connects within seconds, or ends and stops it).
WAIT_S = 3600.0


def _receive(server: socket.socket, parent: int) -> tuple[socket.socket, dict, list[int]]:
    deadline = time.monotonic() + WAIT_S
    server.settimeout(1.0)
    while True:
        try:
            connection, _ = server.accept()
            break
        except TimeoutError:
            if os.getppid() != parent or time.monotonic() > deadline:
                raise SystemExit(0)  # the run that started it is gone: nobody will connect
    connection.settimeout(None)
    message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    return connection, json.loads(message), fds


def main(listening: int, parent: int) -> None:
    server = socket.socket(fileno=listening)
    # What `dbt build` imports on its way to the first node, before anyone asks.
    from dbt.cli.main import cli
    import dbt.adapters.duckdb  # noqa: F401
    import dbt.task.build  # noqa: F401

    connection, request, fds = _receive(server, parent)
    server.close()
    connection.sendall(f"{os.getpid()}\n".encode())
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    # The streams were opened on other files; dbt's log lines must reach the reader
    # as they are written, as PYTHONUNBUFFERED gives a process started for the command.
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["dbt", *request["args"]]
    try:
        cli.main(args=request["args"], prog_name="dbt")
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException as error:  # noqa: BLE001 - reported to the client as dbt would
        print(f"dbt failed: {error!r}", file=sys.stderr)
        code = 2
    sys.stdout.flush()
    sys.stderr.flush()
    connection.sendall(f"{code}\n".encode())
    # An ordinary exit, as dbt's own. The connection's descriptor is left to close with
    # the process: the client waits for that, so when it ends dbt's process has ended and
    # released the warehouse, as a dbt started for the command would have.
    connection.detach()
    raise SystemExit(code)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
