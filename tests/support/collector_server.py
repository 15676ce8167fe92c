"""A real collector process on loopback for tests, and a tiny HTTP client."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.collector.local import free_port, start_local_collector
from ingestion.settings import Settings


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class CollectorKeys:
    """A test collector's home and its secrets, generated per test."""

    home: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    token_key: str = field(default_factory=lambda: secrets.token_urlsafe(40))
    hash_key: str = field(default_factory=lambda: secrets.token_hex(32))

    def collector_env(self) -> dict[str, str]:
        """The JOURNEY_* settings of such a collector (`env_extra` last, so a test can override any)."""
        return {"JOURNEY_HOME": str(self.home), "JOURNEY_API_KEYS": self.api_key,
                "JOURNEY_TOKEN_KEYS": f"k1:{self.token_key}", "JOURNEY_HASH_KEY": self.hash_key,
                "JOURNEY_CORS_ORIGINS": "https://shop.example", **self.env_extra}


@dataclass
class CollectorProcess(CollectorKeys):
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    preexec_fn: Callable[[], None] | None = None  # e.g. resource limits of the child

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.collector_env()}

    def settings(self) -> Settings:
        """The settings of a loader on this collector's home: its spool, a warehouse beside it, its hash key."""
        return Settings.from_env({"JOURNEY_HOME": str(self.home), "JOURNEY_HASH_KEY": self.hash_key})

    @property
    def log(self) -> Path:
        """What the collector logged (its stderr), over every start on this home."""
        return self.home / "logs" / "collector.log"

    def start(self) -> "CollectorProcess":
        self.proc, _ = start_local_collector(self.env(), self.log, self.port, preexec_fn=self.preexec_fn)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def post(self, path: str, body, key: str | None = "default", headers: dict | None = None) -> Response:
        headers = dict(headers or {})
        if key:
            headers["Authorization"] = f"Bearer {self.api_key if key == 'default' else key}"
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
        return request("POST", self.url + path, data, headers)


def request(method: str, url: str, data: bytes | None = None, headers: dict | None = None) -> Response:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())
