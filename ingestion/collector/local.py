"""A collector process on a free loopback port, started and waited for: the one
way `journey demo`, the benchmarks and the tests run a real collector (and wait
for a dashboard to answer)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(proc: subprocess.Popen, url: str, timeout_s: float, name: str,
                       output: Callable[[], str]) -> None:
    """Returns once `url`/healthz answers 200. A process that exits first, or stays silent
    past `timeout_s`, is killed, and RuntimeError carries the end of `output()`, what it printed."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{name} did not start: {output()[-3000:]}")
        time.sleep(0.1)


def start_local_collector(env: Mapping[str, str], log: Path, port: int | None = None, timeout_s: float = 30.0,
                          cwd: Path | None = None,
                          preexec_fn: Callable[[], None] | None = None) -> tuple[subprocess.Popen, str]:
    """`python -m ingestion.collector` on 127.0.0.1; returns the process and its URL once
    `/healthz` answers. Its log (stderr) is appended to the file `log`, which nobody has
    to read for the collector to go on, as a pipe would need; a collector that exits or
    stays silent past `timeout_s` raises RuntimeError with the end of that log."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as stderr:
        start = stderr.tell()
        proc = subprocess.Popen([sys.executable, "-m", "ingestion.collector", "--port", str(port)], env=dict(env),
                                cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr, preexec_fn=preexec_fn)

    def written() -> str:
        """What this start logged (the file may hold earlier ones), and where the rest is."""
        with log.open("rb") as file:
            file.seek(start)
            return f"{file.read().decode(errors='replace')}\n(the collector's log: {log})"

    wait_until_healthy(proc, url, timeout_s, "collector", written)
    return proc, url
