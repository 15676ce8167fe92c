"""A collector process on a free loopback port, started and waited for: the one
way `journey demo`, the benchmarks and the tests run a real collector."""

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


def start_local_collector(env: Mapping[str, str], port: int | None = None, timeout_s: float = 30.0,
                          cwd: Path | None = None,
                          preexec_fn: Callable[[], None] | None = None) -> tuple[subprocess.Popen, str]:
    """`python -m ingestion.collector` on 127.0.0.1; returns the process and its URL once
    `/healthz` answers. Its stderr stays readable; a collector that exits or stays
    silent past `timeout_s` raises RuntimeError with the end of what it printed."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "ingestion.collector", "--port", str(port)], env=dict(env),
                            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=preexec_fn)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"collector did not start: {proc.stderr.read().decode()[-3000:]}")
        time.sleep(0.1)
