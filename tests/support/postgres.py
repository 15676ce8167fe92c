"""A throwaway PostgreSQL cluster for tests, from Debian's `postgresql` (scripts/test.sh installs it as root).

Each cluster lives in its own temporary directory on a free loopback port, with
its socket there too, so it never meets a system cluster or another test run.
PostgreSQL refuses to run as root: as root, initdb and the server run as the
`postgres` user that Debian's package creates, in a directory it owns (outside
pytest's tmp_path, whose parents only root may enter).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg2
import pytest

from ingestion.collector.local import free_port
from ingestion.settings import PostgresSettings

POSTGRES_ROOT = Path("/usr/lib/postgresql")
USER = DBNAME = "journey"
START_ATTEMPTS = 3  # a free port can be taken between choosing it and the server binding it


def postgres_bin_or_fail() -> Path:
    """The newest installed server's bin directory; without one the test fails, CI or not."""
    found = sorted(POSTGRES_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if not found:
        pytest.fail(f"no PostgreSQL server under {POSTGRES_ROOT}: apt-get install postgresql "
                    "(bash scripts/test.sh does it as root)")
    return found[-1].parent


@contextmanager
def throwaway_cluster() -> Iterator[dict[str, str]]:
    """A running cluster with database `journey`, as the JOURNEY_PG_* variables the loader and dbt read."""
    bin_dir = postgres_bin_or_fail()
    base = Path(tempfile.mkdtemp(prefix="journey-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(*args: str) -> None:
        proc = subprocess.run([*as_postgres, str(bin_dir / args[0]), *args[1:]], cwd=base,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{args[0]} failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"

    password = secrets.token_hex(16)
    (base / "pwfile").write_text(password + "\n")
    if as_postgres:
        shutil.chown(base, "postgres")
        shutil.chown(base / "pwfile", "postgres")
    data = base / "data"
    # C collation: strings sort by bytes, as in DuckDB (min(), sorted arrays, session order).
    run("initdb", "-D", str(data), "-U", USER, "--auth=scram-sha-256", f"--pwfile={base / 'pwfile'}",
        "-E", "UTF8", "--no-locale", "--no-sync")
    try:
        for attempt in range(START_ATTEMPTS):
            port = free_port()
            try:
                run("pg_ctl", "-D", str(data), "-l", str(base / "server.log"), "-w", "start", "-o",
                    f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off")
                break
            except AssertionError:
                if attempt == START_ATTEMPTS - 1:
                    raise AssertionError((base / "server.log").read_text()[-3000:]) from None
        env = {"JOURNEY_PG_HOST": "127.0.0.1", "JOURNEY_PG_PORT": str(port), "JOURNEY_PG_USER": USER,
               "JOURNEY_PG_PASSWORD": password, "JOURNEY_PG_DBNAME": DBNAME}
        with connect(env, dbname="postgres") as con:
            con.autocommit = True  # create database refuses to run inside a transaction
            con.cursor().execute(f"create database {DBNAME}")
        try:
            yield env
        finally:
            run("pg_ctl", "-D", str(data), "-m", "immediate", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def connect(env: dict[str, str], dbname: str | None = None) -> closing:
    """A connection to the PostgreSQL that the JOURNEY_PG_* variables in `env` name, read as
    the loader reads them; closed on leaving the block (psycopg2's own `with` only ends the
    transaction)."""
    pg = PostgresSettings.from_env(env)
    return closing(psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, password=pg.password,
                                    dbname=dbname or pg.dbname))
