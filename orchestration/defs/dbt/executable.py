"""How a run starts dbt: the dbt installed beside this interpreter, or a dbt process
started ahead of its command, so that a run does not wait for dbt to start.

`dbt build` spends 2–3 s importing dbt and its adapter before it reads the project.
`journey run` knows it will call dbt once the load is done, so it starts that process
first, beside its own start-up (Dagster, the definitions, the load), on the other core.
dagster-dbt then runs an executable that hands the command to the waiting process
(`warm_client.py` → `warm_server.py`), with dbt's arguments, environment, working
folder and output exactly as if it had started dbt itself.

One command per server; a second call, or a server that is gone, falls back to the
real dbt executable. Only the CLI's runs use it: a run the daemon launches starts dbt
the ordinary way.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
# The dbt installed beside this interpreter, whether or not the venv is on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
SERVER_SCRIPT = HERE / "warm_server.py"
# A server's folder: this prefix, the process id of the run that made it, a random tail.
FOLDER_PREFIX = "journey-dbt-"


def is_dbt_server(command_line: list[str]) -> bool:
    """Whether a process's command line is that of a server started here."""
    return any(part.endswith(SERVER_SCRIPT.name) for part in command_line)


@contextmanager
def prestarted_dbt() -> Iterator[str]:
    """Starts a dbt server and yields an executable that runs its command there (or
    in `DBT_EXECUTABLE` when the server is gone); stops the server and removes its
    files on the way out. Where no server can be started, yields `DBT_EXECUTABLE`."""
    _remove_abandoned_folders()
    # A private folder (mode 0700): only this user may hand the server a command.
    folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
    server = None
    try:
        try:
            server, shim = _start_server(folder)
        except OSError:  # a socket path too long for this system, no room for a process…
            shutil.rmtree(folder, ignore_errors=True)
            yield DBT_EXECUTABLE
            return
        yield shim
    finally:
        if server is not None:
            if server.poll() is None:
                server.terminate()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _remove_abandoned_folders() -> None:
    """A run killed together with its server (`kill -9` of its process group) leaves its
    folder behind, with nobody to remove it: the next run does, for each folder of this
    user whose run has ended. A folder of a run still alive is left alone."""
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*-*"):
        pid = folder.name.removeprefix(FOLDER_PREFIX).split("-", 1)[0]
        try:
            mine = folder.stat().st_uid == os.getuid()
        except OSError:
            continue
        if mine and pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    sock, shim = folder / "dbt.sock", folder / "dbt"
    shim.write_text("#!/bin/sh\nexec " + shlex.join(
        [sys.executable, "-I", "-S", str(HERE / "warm_client.py"), str(sock), DBT_EXECUTABLE]) + ' "$@"\n')
    shim.chmod(0o700)
    # Listening before the server starts: a command sent while it still imports dbt waits for it.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listening:
        listening.bind(str(sock))
        listening.listen(1)
        # -P: dbt's imports must not find this folder's modules (assets.py, project.py…).
        # Its stderr is the run's (the run log): a crash of the server is told there.
        server = subprocess.Popen(
            [sys.executable, "-P", str(SERVER_SCRIPT), str(listening.fileno()), str(os.getpid()),
             str(folder)],
            pass_fds=[listening.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return server, str(shim)
