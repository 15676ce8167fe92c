"""The serving snapshot: readers never block runs, runs never block readers,
and a reader sees one publication whole, never a mix of two."""

from __future__ import annotations

import csv
import email
import email.policy
import json
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ingestion.settings import Settings
from ingestion.simulator import simulate, write_ndjson
from tests.conftest import run_journey
from tests.support.smtp_server import smtp_env

HASH_KEY = secrets.token_hex(32)
LOADS = 4  # the first publishes the snapshot the reader holds; three more runs follow

# One publication as a reader sees it; the same query in the poller and the checks below.
READ_PUBLICATION = """
select p.version, p.events_loaded, p.data_watermark::varchar, p.run_id,
       (select count(*) from marts.fct_sessions),
       (select count(*) from marts.fct_state_transitions),
       (select max(started_at)::varchar from marts.fct_sessions)
from marts.publication p
"""

# Reconnects for every read, in its own process: Python's duckdb reuses an open
# database of the same path within a process, so only a fresh process sees the
# file the path names now. Each read is one connection: one snapshot.
# Its reads go to a file: a pipe nobody drains during the runs would fill up and stall it.
POLLER = f"""
import duckdb, json, os, sys, time
path, stop, out = sys.argv[1:]
with open(out, "w") as reads:
    while not os.path.exists(stop):
        with duckdb.connect(path, read_only=True) as con:
            row = con.execute({READ_PUBLICATION!r}).fetchone()
        reads.write(json.dumps(row) + "\\n")
        time.sleep(0.2)
"""


def read_fresh(path: Path) -> tuple:
    """The publication a new connection sees (in a new process, for the reason above)."""
    code = (f"import duckdb, json; con = duckdb.connect({str(path)!r}, read_only=True); "
            f"print(json.dumps(con.execute({READ_PUBLICATION!r}).fetchone()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return tuple(json.loads(out))


def attached(path: Path) -> duckdb.DuckDBPyConnection:
    """The file the path names now, as catalog `serving`: unlike `duckdb.connect(path)`,
    not the database this process already holds open under that path."""
    con = duckdb.connect()
    con.execute("attach ? as serving (read_only)", [str(path)])
    return con


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Four loads; from the second on, a connection opened on the first snapshot stays open
    and a poller reads the snapshot over and over in another process."""
    home = tmp_path_factory.mktemp("serving")
    settings = Settings.from_env({"JOURNEY_HOME": str(home)})
    sim = simulate(days=2, sessions_per_day=40, seed=31, n_batches=LOADS)
    files = [home / f"load{n}.ndjson" for n in range(LOADS)]
    for n, path in enumerate(files):
        write_ndjson(sim.batch(n), path)

    run_journey(home, HASH_KEY, "import", str(files[0]))
    first_out = run_journey(home, HASH_KEY, "run")
    held = duckdb.connect(str(settings.serving_db), read_only=True)
    held_before = held.execute(READ_PUBLICATION).fetchone()

    stop, reads = home / "stop-polling", home / "polled.jsonl"
    poller = subprocess.Popen([sys.executable, "-c", POLLER, str(settings.serving_db), str(stop), str(reads)])
    published, outputs, held_during = [read_fresh(settings.serving_db)], [first_out], []
    try:
        for path in files[1:]:
            run_journey(home, HASH_KEY, "import", str(path))
            outputs.append(run_journey(home, HASH_KEY, "run"))
            published.append(read_fresh(settings.serving_db))
            held_during.append(held.execute(READ_PUBLICATION).fetchone())
        time.sleep(0.3)
    finally:
        stop.touch()
        poller.wait(timeout=60)
    polled = [tuple(json.loads(line)) for line in reads.read_text().splitlines()]
    return {"settings": settings, "held": held, "held_before": held_before, "held_during": held_during,
            "published": published, "polled": polled, "outputs": outputs, "home": home}


def test_every_run_succeeds_and_publishes_a_new_version(runs):
    assert [p[0] for p in runs["published"]] == list(range(1, LOADS + 1))
    events = [p[1] for p in runs["published"]]
    assert events == sorted(set(events)), "each load adds events"
    for output, publication in zip(runs["outputs"], runs["published"]):
        assert f"serving snapshot {publication[0]} published: {runs['settings'].serving_db}" in output


def test_an_open_connection_keeps_reading_its_own_snapshot(runs):
    """Three runs replaced the file under it; it still reads version 1, whole."""
    assert runs["held_before"][0] == 1
    assert runs["held_during"] == [runs["held_before"]] * (LOADS - 1)
    assert runs["held"].execute("select count(*) from marts.fct_sessions").fetchone()[0] == runs["held_before"][4]


def test_a_reader_polling_through_the_runs_never_sees_a_mix(runs):
    """Every read during the runs is exactly one of the published snapshots."""
    polled = set(runs["polled"])
    assert polled <= set(runs["published"]), polled - set(runs["published"])
    assert len(runs["polled"]) > 10 and len(polled) >= 3  # it really read across the runs


def test_the_snapshot_equals_the_warehouse_marts(runs):
    settings = runs["settings"]
    with duckdb.connect(str(settings.warehouse), read_only=True) as warehouse:
        tables = {t for (t,) in warehouse.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()}
        expected = {t: sorted(warehouse.execute(f"select * from marts.{t}").fetchall(), key=repr) for t in tables}
        events, watermark = warehouse.execute(
            "select count(*), max(occurred_at) at time zone 'UTC' from raw.events").fetchone()
    snapshot = attached(settings.serving_db)
    served = {t for (t,) in snapshot.execute("select table_name from duckdb_tables() "
                                             "where database_name = 'serving' and schema_name = 'marts'").fetchall()}
    assert served == tables | {"publication"}
    for table in tables:
        assert sorted(snapshot.execute(f"select * from serving.marts.{table}").fetchall(), key=repr) \
            == expected[table], table
    publication = snapshot.execute("select events_loaded, data_watermark, run_id from serving.marts.publication")
    assert publication.fetchall() == [(events, watermark, runs["published"][-1][3])]


def test_every_table_and_column_of_the_snapshot_has_a_description(runs):
    con = attached(runs["settings"].serving_db)
    tables = con.execute("select table_name, comment from duckdb_tables() "
                         "where database_name = 'serving' and schema_name = 'marts'").fetchall()
    columns = con.execute("select table_name, column_name, comment from duckdb_columns() "
                          "where database_name = 'serving' and schema_name = 'marts'").fetchall()
    assert len(tables) >= 11 and len(columns) > 100
    assert [t for t, comment in tables if not (comment or "").strip()] == []
    assert [(t, c) for t, c, comment in columns if not (comment or "").strip()] == []
    assert not [t for t, comment in tables if "SPEC" in comment], "descriptions stand on their own"


def test_no_half_built_file_is_left_beside_the_snapshot(runs):
    """Only the snapshot itself: no building copy, no write-ahead log."""
    assert sorted(p.name for p in runs["settings"].serving_db.parent.iterdir()) == [runs["settings"].serving_db.name]


def test_a_snapshot_named_like_its_schema_is_refused_at_start_up():
    """DuckDB would call the file's catalog `marts`, and `marts.<table>` would be ambiguous."""
    with pytest.raises(ValueError, match="JOURNEY_SERVING_DB must not be named marts.duckdb"):
        Settings.from_env({"JOURNEY_HOME": "/tmp/x", "JOURNEY_SERVING_DB": "/tmp/x/serving/marts.duckdb"})


def test_journey_report_renders_from_the_snapshot_and_says_where(runs, tmp_path):
    """In seconds, from the snapshot alone: the warehouse may be gone, the report is not."""
    home = runs["home"]
    (home / "warehouse.duckdb").rename(home / "warehouse.moved")
    try:
        out = run_journey(home, HASH_KEY, "report", "--out", str(tmp_path / "reports"))
    finally:
        (home / "warehouse.moved").rename(home / "warehouse.duckdb")
    folder = Path(re.search(r"folder: (\S+)", out).group(1))
    page = Path(re.search(r"open: +(\S+)", out).group(1))
    assert page == folder / "report.html" and folder.parent == tmp_path / "reports"
    assert f"from the serving snapshot {runs['settings'].serving_db}" in out
    assert "data as of" in page.read_text()
    assert {p.suffix for p in folder.iterdir()} == {".html", ".png", ".csv"}
    with open(folder / "headline.csv", newline="") as fh:
        headline = {row["figure"]: row for row in csv.DictReader(fh)}
    with duckdb.connect() as con:  # the period the report states, counted apart from the report
        sessions = con.execute(
            f"attach '{runs['settings'].serving_db}' as s (read_only); "
            "select count(*) from s.marts.fct_sessions, s.marts.publication p "
            "where started_at > p.data_watermark - interval 7 day and started_at <= p.data_watermark").fetchone()[0]
    assert float(headline["sessions"]["current_period"]) == sessions > 0


def test_journey_report_send_mails_it_and_refuses_without_a_relay(runs, smtp_server, tmp_path):
    inbox, smtp = smtp_server
    out = run_journey(runs["home"], HASH_KEY, "report", "--out", str(tmp_path / "a"), "--send", env=smtp_env(smtp))
    assert f"mailed to {', '.join(smtp.recipients)} via 127.0.0.1:{smtp.port}" in out
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == list(smtp.recipients)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert "sessions" in message["Subject"]
    assert {part.get_filename() for part in message.iter_attachments()} >= {"headline.csv", "daily_volume.png"}
    failed = run_journey(runs["home"], HASH_KEY, "report", "--out", str(tmp_path / "b"), "--send",
                         env={"JOURNEY_SMTP_HOST": ""}, succeed=False)
    assert "--send needs an SMTP relay: set JOURNEY_SMTP_HOST" in failed


def test_journey_report_before_any_publication_says_what_to_do(tmp_path):
    out = run_journey(tmp_path / "new-home", HASH_KEY, "report", succeed=False)
    assert "no serving snapshot at" in out and "`journey run` publishes one" in out


def test_the_lineage_ends_at_the_readers():
    """dbt's exposures: the snapshot reads every mart; the report reads only marts."""
    from orchestration.defs.dbt.project import dbt_project

    manifest = json.loads(dbt_project().manifest_path.read_text())
    marts = {uid for uid, node in manifest["nodes"].items()
             if node["resource_type"] == "model" and node["fqn"][1] == "marts"}
    exposures = {e["name"]: set(e["depends_on"]["nodes"]) for e in manifest["exposures"].values()}
    assert exposures["serving_snapshot"] == marts
    assert "model.journey.fct_sessions" in exposures["stakeholder_report"] <= marts
