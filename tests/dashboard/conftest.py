"""A real serving snapshot, built once for the dashboard tests by the real pipeline
(simulated events → `journey import` → `journey run`), and real `journey dashboard`
processes on loopback reading copies of it."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.collector.local import free_port, wait_until_healthy
from ingestion.simulator import simulate
from tests.conftest import import_and_run
from tests.support.collector_server import Response, request

# The heatmap's time zone and a recontact window short enough that the sessions of the
# first simulated day are mature (so first-contact resolution has numbers).
METRIC_ENV = {"JOURNEY_REPORTING_TIMEZONE": "Europe/Amsterdam", "JOURNEY_RECONTACT_WINDOW_DAYS": "1"}


@dataclass(frozen=True)
class Built:
    home: Path
    snapshot: Path
    first_day: date   # the UTC days sessions started on
    last_day: date

    def query(self, sql: str, params: list | dict | None = None) -> list[tuple]:
        with duckdb.connect(str(self.snapshot), read_only=True) as con:
            return con.execute(sql, params).fetchall()

    def value(self, sql: str, params: list | dict | None = None):
        return self.query(sql, params)[0][0]


@pytest.fixture(scope="package")
def built(tmp_path_factory) -> Built:
    """Three simulated days, 60 sessions a day, through the real pipeline (about a minute)."""
    home = tmp_path_factory.mktemp("dashboard") / "home"
    import_and_run(home, secrets.token_hex(32), simulate(days=3, sessions_per_day=60, seed=5).events, env=METRIC_ENV)
    snapshot = home / "serving" / "journey.duckdb"
    with duckdb.connect(str(snapshot), read_only=True) as con:
        first, last = con.execute("select min(started_at)::date, max(started_at)::date from marts.fct_sessions").fetchone()
    return Built(home, snapshot, first, last)


@dataclass
class Dashboard:
    """`journey dashboard` in a subprocess on a free loopback port, over its own copy of the snapshot."""

    home: Path
    serving_db: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "orchestration.cli", "dashboard", "--host", self.host, "--port", str(self.port)]

    def env(self) -> dict[str, str]:
        env = {**os.environ, **METRIC_ENV, "JOURNEY_HOME": str(self.home), "JOURNEY_SERVING_DB": str(self.serving_db),
               **self.env_extra}
        if "JOURNEY_DASHBOARD_PASSWORD" not in self.env_extra:
            env.pop("JOURNEY_DASHBOARD_PASSWORD", None)
        return env

    def start(self, timeout_s: float = 30) -> Dashboard:
        self.proc = subprocess.Popen(self.command(), env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        wait_until_healthy(self.proc, self.url, timeout_s, "dashboard", self.proc.stdout.read)
        return self

    def stop(self) -> str:
        """Stops it and returns what it printed."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        return self.proc.stdout.read()

    def get(self, path: str, headers: dict | None = None) -> Response:
        return request("GET", self.url + path, headers=headers)

    def page(self, path: str) -> str:
        response = self.get(path)
        assert response.status == 200, (path, response.status, response.body[-2000:])
        return response.body.decode()


def serve_copy(built: Built, folder: Path, **env_extra: str) -> Dashboard:
    """A dashboard over a copy of the built snapshot in `folder` (tests may replace it)."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "journey.duckdb"
    shutil.copyfile(built.snapshot, copy)
    return Dashboard(home=folder, serving_db=copy, env_extra=dict(env_extra)).start()


@pytest.fixture(scope="module")
def dashboard(built, tmp_path_factory):
    server = serve_copy(built, tmp_path_factory.mktemp("served"))
    yield server
    server.stop()
