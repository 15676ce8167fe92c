"""`journey run` starts dbt ahead of its command (orchestration/defs/dbt/executable.py):
the command must run as the installed dbt would run it, in the waiting process, with
dbt's output, exit code and interrupts, and no process may outlive its run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from orchestration.defs.dbt.executable import DBT_EXECUTABLE, prestarted_dbt


def dbt_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def messages(output: str) -> list[str]:
    """What dbt said, without the lines that name its process or the time."""
    return [line["info"]["msg"] for line in dbt_lines(output) if line["info"]["name"] != "MainReportVersion"]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def servers(parent: int) -> list[psutil.Process]:
    """The dbt servers `parent` started (a test worker has other children too)."""
    return [child for child in psutil.Process(parent).children()
            if any(part.endswith("warm_server.py") for part in child.cmdline())]


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


def test_the_command_runs_in_the_waiting_process_as_dbt_would(tmp_path):
    command = ["--log-format", "json", "debug", "--config-dir"]
    installed = subprocess.run([DBT_EXECUTABLE, *command], capture_output=True, text=True, cwd=tmp_path)
    with prestarted_dbt() as dbt:
        first = subprocess.Popen([dbt, *command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 cwd=tmp_path)
        first_output, _ = first.communicate(timeout=120)
        # One command per server: the next one is the installed dbt's, in its own process.
        second = subprocess.Popen([dbt, *command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  cwd=tmp_path)
        second_output, _ = second.communicate(timeout=120)
    assert installed.returncode == first.returncode == second.returncode == 0
    assert messages(first_output) == messages(second_output) == messages(installed.stdout) != []
    # The client execs nothing when a server takes the command: dbt ran in another process.
    assert {line["info"]["pid"] for line in dbt_lines(first_output)} != {first.pid}
    assert {line["info"]["pid"] for line in dbt_lines(second_output)} == {second.pid}


def test_a_failing_command_gives_dbts_exit_code_and_message(tmp_path):
    command = ["run", "--project-dir", str(tmp_path / "missing")]
    installed = subprocess.run([DBT_EXECUTABLE, *command], capture_output=True, text=True, cwd=tmp_path)
    with prestarted_dbt() as dbt:
        prestarted = subprocess.run([dbt, *command], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert installed.returncode == prestarted.returncode == 2
    assert str(tmp_path / "missing") in prestarted.stdout + prestarted.stderr


def test_an_interrupt_reaches_dbt_and_ends_it(tiny_project):
    """dagster-dbt stops a cancelled run's dbt with SIGINT, sent to the process it started."""
    endless = "select sum(hash(i)) from range(100000000000) t(i)"
    with prestarted_dbt() as dbt:
        client = subprocess.Popen(
            [dbt, "--log-format", "json", "show", "--inline", endless, "--project-dir", str(tiny_project),
             "--profiles-dir", str(tiny_project)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tiny_project)
        first = json.loads(client.stdout.readline())
        server = first["info"]["pid"]
        assert server != client.pid
        time.sleep(3)  # into the query
        assert client.poll() is None and not gone(server)
        client.send_signal(signal.SIGINT)
        client.communicate(timeout=60)
        assert client.returncode == 2  # the installed dbt's code for an interrupted command
        assert wait_until(lambda: gone(server), 10)


def test_no_server_outlives_the_run_that_started_it(tmp_path):
    """A run that ends without calling dbt stops its server; a run killed outright
    leaves one that ends by itself once it sees its parent gone."""
    with prestarted_dbt() as dbt:
        folder = Path(dbt).parent
        [server] = servers(os.getpid())
    assert gone(server.pid) and not folder.exists()

    run = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""\
        import time
        from orchestration.defs.dbt.executable import prestarted_dbt
        with prestarted_dbt() as dbt:
            print(dbt, flush=True)
            time.sleep(600)
        """)], stdout=subprocess.PIPE, text=True)
    folder = Path(run.stdout.readline().strip()).parent
    [server] = servers(run.pid)
    run.kill()
    run.wait()
    assert wait_until(lambda: gone(server.pid), 10)
    assert folder.stat().st_mode & 0o077 == 0  # only its user could have handed it a command
