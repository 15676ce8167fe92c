"""The `journey` command's own behaviour: messages and exit codes."""

import os
import shlex
import subprocess
import sys

import dagster as dg
import duckdb
import pytest

from ingestion.settings import Settings
from ingestion.simulator import simulate, write_ndjson
from orchestration import run_state
from orchestration.cli import main
from tests.conftest import event, run_journey, write_lines


def test_import_reports_bad_lines_by_file_and_line(settings, tmp_path, capsys):
    path = write_lines(tmp_path / "mixed.ndjson", [
        event("e1", "message.received", "2026-11-02T09:00:00Z", message_id="m1"),
        "{not json",
        event("e2", "agent.assigned", "2026-11-02T09:00:01Z", agent_id="a1"),
    ])
    assert main(["import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 events accepted" in out and "2 lines quarantined" in out
    assert f"{path}:2: invalid JSON" in out
    assert f"{path}:3: properties.team: Field required" in out
    assert main(["import", "--strict", str(path)]) == 1


def test_import_progress_off_a_terminal_is_a_line_now_and_then(settings, tmp_path, monkeypatch, capsys):
    """Piped or logged, a long import says how far it got at most every PROGRESS_EVERY_S, not every 20k lines."""
    path = tmp_path / "many.ndjson"
    write_ndjson(simulate(days=4, sessions_per_day=800, seed=5).events, path)
    assert sum(1 for _ in path.open()) > 40_000  # the importer reports every 20,000 lines

    def progress_lines(every_s: float) -> list[str]:
        monkeypatch.setattr("orchestration.cli.PROGRESS_EVERY_S", every_s)
        assert main(["import", str(path)]) == 0
        return [line for line in capsys.readouterr().out.splitlines() if line.startswith("  importing")]

    assert progress_lines(3600.0) == []  # shorter than the interval: the summary alone
    every_report = progress_lines(0.0)
    assert len(every_report) >= 2 and all(line.endswith("lines") and "many.ndjson" in line for line in every_report)


def test_missing_file_and_bad_setting_are_clear_errors(settings, tmp_path, capsys, monkeypatch):
    assert main(["import", str(tmp_path / "nope.ndjson")]) == 2
    assert "no such file" in capsys.readouterr().err
    monkeypatch.setenv("JOURNEY_TTL_HOURS", "soon")
    assert main(["run"]) == 2
    assert "JOURNEY_TTL_HOURS must be a number" in capsys.readouterr().err


def test_an_unknown_option_is_named_with_its_command_usage(capsys):
    """Not the list of commands: the usage of the command the option was given to."""
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--bogus"])

    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "usage: journey run [-h] [--full-refresh] [--verbose]" in err
    assert "journey run: error: unrecognized arguments: --bogus" in err


def test_a_failed_run_says_which_step_and_why_without_a_traceback(settings, tmp_path, monkeypatch):
    """A BI tool holding the DuckDB file read-write blocks the load: the operator reads why,
    and a command for the Dagster UI that pastes into a shell (the home has a space)."""
    monkeypatch.setenv("JOURNEY_HOME", str(tmp_path / "my home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "my home" / "dagster"))
    settings = Settings.from_env()
    path = tmp_path / "events.ndjson"
    write_ndjson(simulate(days=1, sessions_per_day=10, seed=2).events, path)
    run_journey(settings.home, "k" * 64, "import", str(path))
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)):  # the lock a second writer cannot take
        proc = subprocess.run([sys.executable, "-m", "orchestration.cli", "run"], capture_output=True, text=True,
                              env={**os.environ, "JOURNEY_HASH_KEY": "k" * 64}, timeout=600)
    assert proc.returncode == 1
    assert "FAILED" in proc.stdout and "step spool_load failed" in proc.stdout
    assert f"hint: process {os.getpid()} (" in proc.stdout
    assert "has the working warehouse open read-write" in proc.stdout
    ui = proc.stdout.split("in the Dagster UI: ", 1)[1].split(", then", 1)[0]
    assert shlex.split(ui)[0] == f"DAGSTER_HOME={settings.home / 'dagster'}"
    assert "Traceback" not in proc.stdout


def test_a_reader_on_the_warehouse_is_named_and_sent_to_the_serving_snapshot(settings, tmp_path):
    """A read-only connection also stops a run: the hint names its process and where readers belong."""
    assert main(["run"]) == 0
    reader = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                               f"con = duckdb.connect({str(settings.warehouse)!r}, read_only=True); "
                               "print('open', flush=True); time.sleep(600)"], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline() == "open\n"
        # --full-refresh: with nothing new a plain run would rightly not touch the warehouse at all.
        proc = subprocess.run([sys.executable, "-m", "orchestration.cli", "run", "--full-refresh"],
                              capture_output=True, text=True,
                              env={**os.environ, "JOURNEY_HASH_KEY": "k" * 64}, timeout=600)
    finally:
        reader.kill()
    assert proc.returncode == 1
    assert f"hint: process {reader.pid} (" in proc.stdout
    assert "open read-only" in proc.stdout
    assert f"connect to the serving snapshot {settings.serving_db} instead" in proc.stdout


def test_first_run_on_an_empty_install_builds_empty_marts(settings):
    assert main(["run"]) == 0
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.sql("select count(*) from raw.events").fetchall()[0][0] == 0
        assert con.sql("select count(*) from marts.fct_sessions").fetchall()[0][0] == 0
        assert con.sql("select count(*) from marts.mart_operational_heatmap").fetchall()[0][0] == 168


def test_a_run_with_nothing_new_does_nothing_and_says_so(settings, tmp_path, capsys, monkeypatch):
    """Nothing waits, nothing changed: no Dagster run, the same snapshot file, exit 0; new data,
    a changed setting or a changed model, and the next run builds."""
    assert main(["run"]) == 0
    with dg.DagsterInstance.get() as instance:
        runs_before = instance.get_runs_count()
    snapshot = settings.serving_db.read_bytes()
    capsys.readouterr()

    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert "nothing new since run" in out and f"serving snapshot 1 stays: {settings.serving_db}" in out
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs_count() == runs_before
    assert settings.serving_db.read_bytes() == snapshot

    assert run_state.unchanged_since(settings, waiting_batches=0) is not None
    assert run_state.unchanged_since(settings, waiting_batches=1) is None
    monkeypatch.setenv("JOURNEY_TTL_HOURS", "12")
    assert run_state.unchanged_since(Settings.from_env(), waiting_batches=0) is None
    monkeypatch.delenv("JOURNEY_TTL_HOURS")
    monkeypatch.setattr(run_state, "REPO", tmp_path)  # the watched files are now other files
    assert run_state.unchanged_since(settings, waiting_batches=0) is None


def test_on_a_terminal_a_status_line_follows_the_run_and_the_logs_stay_in_their_file(tmp_path):
    """Under a pseudo-terminal: the stage lines, a status line rewritten as dbt builds,
    and none of dbt's or Dagster's own output, which goes to the log file."""
    import pty
    import re
    import secrets

    home = tmp_path / "home"
    write_ndjson(simulate(days=1, sessions_per_day=10, seed=3).events, tmp_path / "e.ndjson")
    key = secrets.token_hex(32)
    run_journey(home, key, "import", str(tmp_path / "e.ndjson"))
    env = {**os.environ, "JOURNEY_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "JOURNEY_HASH_KEY": key}
    env.pop("JOURNEY_WAREHOUSE", None)
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "run"], env=env,
                            stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the command is done
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=600) == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode("utf-8", "replace"))
    assert re.search(r"dbt build: \d+ models built, \d+ tests passed", text), "no live status while dbt builds"
    for stage in ("load", "dbt build", "checks", "publish"):
        assert re.search(rf"^✓ {stage}\s", text.replace("\r", "\n"), re.M), stage
    assert "Running with dbt" not in text and "dagster - INFO" not in text
    log = next((home / "logs").glob("run-*.log")).read_text()
    assert "Running with dbt" in log and "dagster - INFO" in log
