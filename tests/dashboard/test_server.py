"""The dashboard process: a new snapshot shows without a restart, and it listens
beyond loopback only behind a password."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import duckdb

from dashboard import format as fmt
from tests.dashboard.conftest import Dashboard, serve_copy
from tests.dashboard.html import text
from tests.dashboard.test_pages import whole


def test_a_republished_snapshot_shows_without_a_restart(built, tmp_path):
    server = serve_copy(built, tmp_path / "served")
    try:
        before = server.page(f"/?{whole(built)}")
        assert text(before, "snapshot-version") == "1"
        # A publication: a new file built beside the served one, renamed over it.
        new = tmp_path / "served" / ".journey.duckdb.building"
        shutil.copyfile(built.snapshot, new)
        with duckdb.connect(str(new)) as con:
            con.execute("delete from marts.fct_sessions where channel = 'sms'")
            con.execute("update marts.publication set version = version + 1")
            remaining = con.execute("select count(*) from marts.fct_sessions where started_at::date between ? and ?",
                                    [built.first_day, built.last_day]).fetchone()[0]
        os.replace(new, server.serving_db)
        after = server.page(f"/?{whole(built)}")
        assert text(after, "snapshot-version") == "2"
        assert fmt.count(remaining) in text(after, "kpi-sessions")
        assert server.proc.poll() is None
    finally:
        server.stop()


def test_beyond_loopback_without_a_password_it_refuses_to_start(built, tmp_path):
    for password in (None, ""):
        server = Dashboard(home=tmp_path, serving_db=built.snapshot, host="0.0.0.0")
        env = server.env()
        if password is not None:
            env["JOURNEY_DASHBOARD_PASSWORD"] = password
        proc = subprocess.run(server.command(), env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2
        assert "refusing to listen on 0.0.0.0" in proc.stderr and "JOURNEY_DASHBOARD_PASSWORD" in proc.stderr
        assert "Uvicorn running" not in proc.stdout + proc.stderr


def test_beyond_loopback_it_asks_for_the_password(built, tmp_path):
    password = "correct horse battery staple"
    server = Dashboard(home=tmp_path, serving_db=built.snapshot, host="0.0.0.0",
                       env_extra={"JOURNEY_DASHBOARD_PASSWORD": password}).start()
    try:
        def basic(secret: str) -> dict:
            return {"Authorization": "Basic " + base64.b64encode(f"manager:{secret}".encode()).decode()}

        refused = server.get("/")
        assert refused.status == 401 and refused.headers["www-authenticate"].startswith("Basic")
        assert server.get("/", basic("wrong")).status == 401
        assert server.get("/sessions.csv", basic(password[:-1])).status == 401
        assert server.get("/", basic(password)).status == 200
        assert server.get("/healthz").status == 200  # says "ok" and nothing else
    finally:
        printed = server.stop()
    assert "password-protected" in printed


def test_on_loopback_it_needs_no_password(dashboard):
    assert dashboard.get("/").status == 200


def test_before_the_first_publication_it_says_so_then_shows_it(built, tmp_path):
    served = tmp_path / "serving" / "journey.duckdb"
    server = Dashboard(home=tmp_path, serving_db=served).start()
    try:
        waiting = server.get("/")
        assert waiting.status == 503 and b"journey run" in waiting.body
        served.parent.mkdir(parents=True)
        shutil.copyfile(built.snapshot, served)
        assert text(server.page("/"), "snapshot-version") == "1"
    finally:
        printed = server.stop()
    assert "no snapshot there yet" in printed and "loopback only" in printed


def test_the_command_documents_its_defaults():
    proc = subprocess.run([*Dashboard(Path("."), Path(".")).command()[:4], "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0
    assert "127.0.0.1" in proc.stdout and "8701" in proc.stdout and "JOURNEY_DASHBOARD_PASSWORD" in proc.stdout
