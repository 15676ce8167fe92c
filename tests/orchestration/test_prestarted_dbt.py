"""`journey run` starts dbt ahead of its command (orchestration/defs/dbt/executable.py):
the command must run as the installed dbt would run it, in the waiting process, with
dbt's output, exit code and interrupts; with no server to take it, the installed dbt
runs it; and no process or folder may outlive its run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from orchestration.defs.dbt.executable import DBT_EXECUTABLE, FOLDER_PREFIX, is_dbt_server, prestarted_dbt
from orchestration.warehouse_lock import lock_conflict_hint, lock_holders
from tests.support import REPO

# The tests' dbt projects are not ours, whose flags turn dbt's usage statistics off.
QUIET = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
CONFIG_DIR = ["--log-format", "json", "debug", "--config-dir"]


def dbt_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def messages(output: str) -> list[str]:
    """What dbt said, without the lines that name its process or the time."""
    return [line["info"]["msg"] for line in dbt_lines(output) if line["info"]["name"] != "MainReportVersion"]


def pids(output: str) -> set[int]:
    return {line["info"]["pid"] for line in dbt_lines(output)}


def run(executable: str, *args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """`executable args` to its end, its output in `.output`."""
    proc = subprocess.Popen([executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env or QUIET, cwd=cwd)
    proc.output, _ = proc.communicate(timeout=180)
    return proc


def servers(parent: int) -> list[psutil.Process]:
    """The dbt servers `parent` started (a test worker has other children too)."""
    found = []
    for child in psutil.Process(parent).children():
        try:
            if is_dbt_server(child.cmdline()):
                found.append(child)
        except psutil.Error:  # gone, or a zombie another test left unreaped: not a server
            continue
    return found


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory) -> Path:
    """A dbt project with an in-memory DuckDB profile: dbt starts without parsing ours."""
    folder = tmp_path_factory.mktemp("tiny")
    (folder / "dbt_project.yml").write_text("name: tiny\nversion: '1.0'\nprofile: tiny\n")
    (folder / "profiles.yml").write_text(textwrap.dedent("""\
        tiny:
          target: dev
          outputs:
            dev: {type: duckdb, path: ":memory:"}
        """))
    return folder


def test_the_command_runs_in_the_waiting_process_as_dbt_would(tmp_path, capfd):
    installed = run(DBT_EXECUTABLE, *CONFIG_DIR, cwd=tmp_path)
    # A large environment (more than a socket takes at once) arrives whole.
    env = {**QUIET, **{f"JOURNEY_TEST_LARGE_{n}": "x" * 100_000 for n in range(3)}}
    with prestarted_dbt() as dbt:
        first = run(dbt, *CONFIG_DIR, env=env, cwd=tmp_path)
        # One command per server: the next one is the installed dbt's, in its own process.
        second = run(dbt, *CONFIG_DIR, env=env, cwd=tmp_path)
    assert installed.returncode == first.returncode == second.returncode == 0, first.output + second.output
    assert messages(first.output) == messages(second.output) == messages(installed.output) != []
    # The client execs the installed dbt only when no server takes the command.
    assert pids(first.output) != {first.pid}
    assert pids(second.output) == {second.pid}
    # The server's stderr is the run's log: its rehearsal (a parse while it waits) went unremarked.
    assert "rehearsal" not in capfd.readouterr().err


def test_a_failing_command_gives_dbts_exit_code_and_message(tmp_path):
    command = ["run", "--project-dir", str(tmp_path / "missing")]
    installed = run(DBT_EXECUTABLE, *command, cwd=tmp_path)
    with prestarted_dbt() as dbt:
        prestarted = run(dbt, *command, cwd=tmp_path)
    assert installed.returncode == prestarted.returncode == 2
    assert str(tmp_path / "missing") in prestarted.output


def test_a_server_that_dies_before_it_takes_the_command_leaves_it_to_the_installed_dbt(tmp_path):
    with prestarted_dbt() as dbt:
        [server] = servers(os.getpid())
        server.suspend()  # the command waits in the socket's queue…
        client = subprocess.Popen([dbt, *CONFIG_DIR], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env=QUIET, cwd=tmp_path)
        time.sleep(1)
        server.kill()  # …and the server ends without taking it
        output, _ = client.communicate(timeout=180)
    assert client.returncode == 0, output
    assert pids(output) == {client.pid} and messages(output) == messages(run(DBT_EXECUTABLE, *CONFIG_DIR).output)


def start_endless_query(dbt: str, project: Path) -> tuple[subprocess.Popen, int]:
    """`dbt show` of a query that never ends, through `dbt`; (the client, the pid of the
    process that runs the query) once dbt has sent it."""
    endless = "select sum(hash(i)) from range(100000000000) t(i)"
    client = subprocess.Popen(
        [dbt, "--log-format", "json", "--log-level", "debug", "show", "--inline", endless,
         "--project-dir", str(project), "--profiles-dir", str(project)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=project, env=QUIET)
    for line in client.stdout:
        if line.startswith("{") and json.loads(line)["info"]["name"] == "SQLQuery" and "range(" in line:
            return client, json.loads(line)["info"]["pid"]
    raise AssertionError(f"dbt ended (code {client.wait()}) without sending the query")


@pytest.mark.parametrize("ending", [signal.SIGINT, signal.SIGKILL], ids=["interrupted", "killed"])
def test_dbt_ends_when_its_client_is_interrupted_or_killed(tiny_project, ending):
    """dagster-dbt stops a cancelled run's dbt with SIGINT, sent to the process it started;
    a client killed outright leaves nobody to wait for dbt, which must stop as well."""
    with prestarted_dbt() as dbt:
        client, server = start_endless_query(dbt, tiny_project)
        assert server != client.pid
        time.sleep(1)
        assert client.poll() is None and not gone(server)
        client.send_signal(ending)
        client.communicate(timeout=60)
        # 2: the installed dbt's code for an interrupted command.
        assert client.returncode == (2 if ending == signal.SIGINT else -signal.SIGKILL)
        assert wait_until(lambda: gone(server), 30)


@pytest.fixture
def file_project(tmp_path) -> Path:
    """A dbt project with one table model, on a DuckDB file: `warehouse.duckdb` beside it."""
    (tmp_path / "dbt_project.yml").write_text("name: on_file\nversion: '1.0'\nprofile: on_file\n")
    (tmp_path / "profiles.yml").write_text("on_file:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: "
                                           f"{json.dumps(str(tmp_path / 'warehouse.duckdb'))}}}\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "numbers.sql").write_text(
        "{{ config(materialized='table') }}\nselect range as n from range(100000)\n")
    return tmp_path


def test_a_lock_held_by_the_server_is_named_as_dbt_of_its_run(file_project):
    """A second run that finds the warehouse locked by this run's dbt says so, not the
    command line of a script no user knows."""
    warehouse = file_project / "warehouse.duckdb"
    with prestarted_dbt() as dbt:
        client, server = start_endless_query(dbt, file_project)
        try:
            # dbt logs the query just before it opens the file.
            assert wait_until(lambda: lock_holders(warehouse), 30)
            hint = lock_conflict_hint(f'IO Error: Could not set lock on file "{warehouse}"', warehouse,
                                      file_project / "serving.duckdb")
        finally:
            client.send_signal(signal.SIGINT)
            client.communicate(timeout=60)
    assert hint.startswith(f"hint: process {server} (dbt, started by the `journey run` with process id "
                           f"{os.getpid()}) has the working warehouse open read-write")


def test_the_warehouse_is_closed_when_the_command_returns(file_project):
    """The server ends without Python's teardown, but only after dbt closed the warehouse
    as at its own exit: checkpointed (no write-ahead log left), its lock released."""
    warehouse = file_project / "warehouse.duckdb"
    with prestarted_dbt() as dbt:
        built = run(dbt, "run", "--project-dir", str(file_project), "--profiles-dir", str(file_project),
                    cwd=file_project)
        assert built.returncode == 0, built.output
        assert not warehouse.with_name("warehouse.duckdb.wal").exists()
        assert lock_holders(warehouse) == []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.sql("select count(*), sum(n) from numbers").fetchall() == [(100000, 4999950000)]


def test_a_folder_left_by_a_run_killed_with_its_server_is_removed_by_the_next():
    """A `kill -9` of a run's whole process group leaves its folder; the next run removes
    it, and leaves the folders of runs still going."""
    ended = subprocess.Popen(["true"])
    ended.wait()  # a process id that no process has now
    abandoned = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{ended.pid}-"))
    (abandoned / "dbt").write_text("#!/bin/sh\n")
    running = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getppid()}-"))
    try:
        with prestarted_dbt():
            pass
        assert not abandoned.exists() and running.exists()
    finally:
        shutil.rmtree(abandoned, ignore_errors=True)
        shutil.rmtree(running, ignore_errors=True)


def test_no_server_or_folder_outlives_the_run_that_started_it():
    """A run that ends without calling dbt stops its server; a run killed outright
    leaves one that ends by itself, removing its folder, once it sees its parent gone."""
    with prestarted_dbt() as dbt:
        folder = Path(dbt).parent
        assert folder.stat().st_mode & 0o077 == 0  # only its user may hand it a command
        [server] = servers(os.getpid())
    assert gone(server.pid) and not folder.exists()

    journey = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""\
        import time
        from orchestration.defs.dbt.executable import prestarted_dbt
        with prestarted_dbt() as dbt:
            print(dbt, flush=True)
            time.sleep(600)
        """)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    started = journey.stdout.readline()
    folder = Path(started.strip()).parent
    # Once seen slow to show on a loaded CI machine: looked for until it shows.
    assert wait_until(lambda: len(servers(journey.pid)) == 1, 30), (started, journey.poll())
    [server] = servers(journey.pid)
    journey.kill()
    journey.wait()
    assert wait_until(lambda: gone(server.pid) and not folder.exists(), 60)
