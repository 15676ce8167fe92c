"""A dbt process started ahead of its command (see `executable.py`): run as a script by path.

Usage: python -P warm_server.py LISTENING_FD PARENT_PID FOLDER

Its socket is bound and listening before it starts (its parent passes the descriptor),
so a client may connect while it still imports dbt. It then runs the one command the
client sends as `dbt <args>` would, with the client's working folder, environment and
standard streams, and answers with the exit code. Standard library and dbt only:
nothing of the project is imported into dbt's process.

The request is a length line, then that many bytes of JSON; the client's three
standard descriptors come with its first bytes.
"""

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import threading
import time

# How long a server waits for its command before it gives up (its `journey run`
# normally connects within seconds, or ends and stops it).
WAIT_S = 3600.0


def _accept(server: socket.socket, parent: int, folder: str) -> socket.socket:
    deadline = time.monotonic() + WAIT_S
    server.settimeout(1.0)
    while True:
        try:
            connection, _ = server.accept()
            connection.settimeout(None)
            return connection
        except TimeoutError:
            if os.getppid() != parent or time.monotonic() > deadline:
                # The run that started it is gone (killed, it could not clean up): nobody
                # will connect, and the folder is this server's to remove.
                shutil.rmtree(folder, ignore_errors=True)
                raise SystemExit(0) from None


def _receive(connection: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(connection, 65536, 3)
    header, _, data = data.partition(b"\n")
    length = int(header)
    while len(data) < length:  # a stream may deliver a large environment in parts
        chunk = connection.recv(length - len(data))
        if not chunk:
            raise ConnectionError("the client left before its whole request arrived")
        data += chunk
    return json.loads(data), fds


def _interrupt_when_the_client_leaves(connection: socket.socket) -> None:
    """The client stays connected until this process ends; if it goes first (killed),
    nobody waits for dbt any more: stop it as an interrupt would."""
    def watch() -> None:
        try:
            gone = connection.recv(1) == b""
        except OSError:
            gone = True
        if gone:
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="client-watch", daemon=True).start()


# A project of one model on an in-memory DuckDB: parsing it costs dbt about 1.5 s.
REHEARSAL = {
    "dbt_project.yml": "name: rehearsal\nversion: '1.0'\nprofile: rehearsal\n",
    "profiles.yml": "rehearsal:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: ':memory:'}\n",
    "models/one.sql": "select 1 as one\n",
}


def _rehearse(cli, project: str) -> None:
    """dbt does some work once per process, at its first command: it builds the JSON
    schemas that check a project and a profile, generates the (de)serializers of its
    manifest classes, reads the adapter's behaviour flags. A `dbt parse` of a throwaway
    project does that work before the command arrives (about 0.4 s off its start; dbt
    runs several commands in one process by design). Its output goes to the server's
    stdout (/dev/null) and its files to `project`, which goes with the server's folder."""
    for name, text in REHEARSAL.items():
        os.makedirs(os.path.dirname(os.path.join(project, name)), exist_ok=True)
        with open(os.path.join(project, name), "w") as file:
            file.write(text)
    try:
        # Every location and name given, so no DBT_* variable of the run's can redirect it.
        cli.main(args=["--no-send-anonymous-usage-stats", "parse", "--project-dir", project,
                       "--profiles-dir", project, "--profile", "rehearsal", "--target", "dev",
                       "--log-path", os.path.join(project, "logs"),
                       "--target-path", os.path.join(project, "target")], prog_name="dbt")
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            print(f"dbt's rehearsal ended with code {exit_.code}; "
                  "the command starts as it would have without it", file=sys.stderr)
    except Exception as error:  # noqa: BLE001 - the command runs without the rehearsal
        print(f"dbt's rehearsal failed ({error!r}); the command starts as it would have without it",
              file=sys.stderr)


def main(listening: int, parent: int, folder: str) -> None:
    server = socket.socket(fileno=listening)
    # What `dbt build` imports on its way to the first node, before anyone asks.
    from dbt.cli.main import cli
    import dbt.adapters.duckdb  # noqa: F401
    import dbt.task.build  # noqa: F401
    _rehearse(cli, os.path.join(folder, "rehearsal"))

    connection = _accept(server, parent, folder)
    server.close()
    request, fds = _receive(connection)
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
    _interrupt_when_the_client_leaves(connection)
    try:
        cli.main(args=request["args"], prog_name="dbt")
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException as error:  # noqa: BLE001 - reported to the client as dbt would
        print(f"dbt failed: {error!r}", file=sys.stderr)
        code = 2
    # What dbt registered to run at exit runs now, as at its own exit: dbt-duckdb closes
    # the warehouse (a checkpoint, and its lock released), multiprocessing removes its
    # semaphores, logging flushes. Then the process ends without Python's teardown of
    # dbt's thousands of modules (~0.5 s that nobody waits for), as `journey` itself does.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    with contextlib.suppress(OSError):  # a client that left has nobody to tell
        connection.sendall(f"{code}\n".encode())
    # The connection's descriptor closes with the process: the client waits for that, so
    # when it ends dbt's process has ended, as a dbt started for the command would have.
    os._exit(code)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
