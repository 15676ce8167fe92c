"""The dlt loader on real segments and a real DuckDB file."""

import json
import shutil
import signal
import subprocess
import sys
from dataclasses import replace

import duckdb
import pytest

from ingestion.importer import import_files
from ingestion.loader import load_spool, load_waiting, make_pipeline
from ingestion.spool import SpoolReader, SpoolWriter
from tests.conftest import event, write_lines


def _query(settings, sql):
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.sql(sql).fetchall()


def _events(n, prefix="e"):
    return [event(f"{prefix}{i}", "message.received", f"2026-11-02T09:{i // 60:02d}:{i % 60:02d}Z",
                  message_id=f"m{i}") for i in range(n)]


def test_duplicates_within_and_across_loads_are_stored_once(settings, tmp_path):
    first = _events(50)
    write_lines(tmp_path / "a.ndjson", first + first[:10])
    import_files([tmp_path / "a.ndjson"], settings)
    assert load_spool(settings)["events"] == 50
    write_lines(tmp_path / "b.ndjson", first[20:30] + _events(5, prefix="new"))
    import_files([tmp_path / "b.ndjson"], settings)
    assert load_spool(settings)["events"] == 5
    assert _query(settings, "select count(*), count(distinct event_id) from raw.events") == [(55, 55)]


def test_loading_the_same_segments_twice_changes_nothing(settings, tmp_path):
    write_lines(tmp_path / "a.ndjson", _events(30))
    import_files([tmp_path / "a.ndjson"], settings)
    load_spool(settings)
    snapshot = _query(settings, "select * from raw.events order by event_id")
    loaded = settings.spool_dir / "loaded"
    for seg in loaded.iterdir():  # replay every loaded segment as if never loaded
        shutil.copy(seg, settings.spool_dir / "ready" / seg.name)
    assert load_spool(settings)["segments"] == 1
    assert _query(settings, "select * from raw.events order by event_id") == snapshot


def test_corrupt_spool_lines_are_quarantined_not_fatal(settings):
    good = _events(3)
    with SpoolWriter(settings.spool_dir) as writer:
        writer.append([{**e, "received_at": "2026-11-02T10:00:00Z"} for e in good])
        writer.append([b"\x00\xffnot json at all\n", b'["an array"]\n',
                       b'{"event_id": "x", "type": "bogus", "occurred_at": "2026-11-02T10:00:00Z", '
                       b'"received_at": "2026-11-02T10:00:00Z"}\n'])
    result = load_spool(settings)
    assert result == {"segments": 1, "events": 3, "quarantined": 3}
    reasons = sorted(r for (r,) in _query(settings, "select reason from raw.quarantine"))
    assert _query(settings, "select spool_line from raw.quarantine where reason like 'corrupt%' "
                            "order by 1") == [(4,), (5,)]
    assert reasons[0].startswith("corrupt spool record")
    assert reasons[1] == "corrupt spool record: record is not a JSON object"
    assert reasons[2] == "type: missing or unknown event type"
    assert SpoolReader(settings.spool_dir).pending() == []


def test_import_reports_and_quarantines_bad_lines_once(settings, tmp_path):
    path = write_lines(tmp_path / "mixed.ndjson", [
        _events(1)[0],
        "{broken",
        event("e9", "csat.submitted", "2026-11-02T09:00:00Z", score=9),
    ])
    report = import_files([path], settings)
    assert report.accepted == 1
    assert [(line, reason.split(":")[0]) for _, line, reason in report.problems] == [
        (2, "invalid JSON"), (3, "properties.score")]
    load_spool(settings)
    import_files([path], settings)  # the same file again
    load_spool(settings)
    rows = _query(settings, "select source_line, reason from raw.quarantine order by source_line")
    assert [line for line, _ in rows] == [2, 3]
    assert _query(settings, "select count(*) from raw.events") == [(1,)]


def test_channel_user_ids_are_stored_as_keyed_hashes(settings, tmp_path):
    data = _events(1)[0]
    data["identity"] = {"channel_user_id": "+31612345678"}
    data["properties"]["text"] = "my address is secret street 1"
    import_files([write_lines(tmp_path / "p.ndjson", [data])], settings)
    load_spool(settings)
    stored = str(_query(settings, "select * from raw.events")[0])
    assert "+31612345678" not in stored and "secret street" not in stored
    assert '"channel_user_id":"h:' in stored


def test_unknown_fields_are_kept(settings, tmp_path):
    data = _events(1)[0]
    data["vendor"] = {"campaign": "spring"}
    data["properties"]["extra_prop"] = 7
    import_files([write_lines(tmp_path / "x.ndjson", [data])], settings)
    load_spool(settings)
    (extras, properties), = _query(settings, "select extras, properties from raw.events")
    assert json.loads(extras) == {"vendor": {"campaign": "spring"}}
    assert json.loads(properties)["extra_prop"] == 7


def _four_segments(settings, tmp_path):
    for k in range(4):
        write_lines(tmp_path / f"s{k}.ndjson", _events(40, prefix=f"s{k}-"))
        import_files([tmp_path / f"s{k}.ndjson"], settings)  # each import seals one segment
    segments = SpoolReader(settings.spool_dir).pending()
    assert len(segments) == 4
    # A batch budget that holds one segment and not two.
    return replace(settings, load_batch_bytes=max(s.stat().st_size for s in segments) + 1)


def test_a_backlog_loads_in_bounded_batches_each_acknowledged(settings, tmp_path):
    settings = _four_segments(settings, tmp_path)
    seen = []
    totals = load_waiting(make_pipeline(settings), settings, progress=seen.append)
    assert totals == {"batches": 4, "segments": 4, "events": 160, "quarantined": 0}
    assert len(seen) == 4 and seen[0].startswith("spool: batch 1 loaded: 1 segment(s), 40 new events")
    assert _query(settings, "select count(*), count(distinct event_id) from raw.events") == [(160, 160)]
    assert SpoolReader(settings.spool_dir).pending() == []


def test_a_loader_dying_between_batches_keeps_the_committed_ones_and_reloads_the_rest(settings, tmp_path):
    settings = _four_segments(settings, tmp_path)

    def die_after_the_first(line):
        raise SystemExit(f"killed after: {line}")

    with pytest.raises(SystemExit):
        load_waiting(make_pipeline(settings), settings, progress=die_after_the_first)
    assert len(SpoolReader(settings.spool_dir).pending()) == 3  # the first batch was acknowledged
    assert _query(settings, "select count(*) from raw.events") == [(40,)]
    assert load_spool(settings) == {"segments": 3, "events": 120, "quarantined": 0}
    assert _query(settings, "select count(*), count(distinct event_id) from raw.events") == [(160, 160)]


def test_a_load_stops_at_the_backlog_it_found_while_new_segments_keep_arriving(settings, tmp_path):
    settings = _four_segments(settings, tmp_path)
    write_lines(tmp_path / "late.ndjson", _events(7, prefix="late-"))

    def a_collector_keeps_sealing(line):
        import_files([tmp_path / "late.ndjson"], settings)

    totals = load_waiting(make_pipeline(settings), settings, progress=a_collector_keeps_sealing)
    assert totals["segments"] == 4 and totals["events"] == 160
    assert len(SpoolReader(settings.spool_dir).pending()) == 4  # left for the next run
    assert load_spool(settings)["events"] == 7  # the same late events each time: stored once


def _die_with_an_open_segment(settings, events) -> None:
    """A writer killed -9 after acknowledging `events`: its segment stays in active/, unsealed."""
    script = ("import json, os, signal, sys\n"
              "from ingestion.edge import Edge\n"
              "from ingestion.spool import encode\n"
              "from ingestion.settings import Settings\n"
              "from ingestion.sinks import open_sink\n"
              "settings = Settings.from_env()\n"
              "edge = Edge.from_settings(settings)\n"
              "sink = open_sink(settings, max_age_s=float('inf'))\n"
              "sink.append([encode(edge.accept(e, '2026-11-02T10:00:00Z')) for e in json.loads(sys.argv[1])])\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    died = subprocess.run([sys.executable, "-c", script, json.dumps(events)])
    assert died.returncode == -signal.SIGKILL


def test_one_load_takes_a_backlog_beyond_one_batch_and_the_open_segments_of_dead_writers(settings, tmp_path):
    """The operator's bad night: writers died with open segments while more than one batch
    waited sealed. One load must take both, not stop at the sealed backlog it saw first."""
    settings = _four_segments(settings, tmp_path)
    for k in range(2):
        _die_with_an_open_segment(settings, _events(25, prefix=f"orphan{k}-"))
    assert len(list((settings.spool_dir / "active").glob("*.open"))) == 2
    totals = load_waiting(make_pipeline(settings), settings, progress=lambda line: None)
    assert (totals["segments"], totals["events"]) == (6, 210), totals
    assert _query(settings, "select count(*), count(distinct event_id) from raw.events") == [(210, 210)]
    assert SpoolReader(settings.spool_dir).pending() == []
    assert list((settings.spool_dir / "active").glob("*.open")) == []


def test_a_load_for_spark_leaves_both_raw_folders_even_without_rejections(tmp_path):
    """Spark registers raw's two Parquet folders on every dbt run; a folder that does not
    exist yet would cost a Java stack trace in the run log, so the loader leaves both."""
    import secrets

    from ingestion.settings import Settings

    settings = Settings.from_env({"JOURNEY_HOME": str(tmp_path / "home"), "JOURNEY_HASH_KEY": secrets.token_hex(32),
                                  "JOURNEY_DESTINATION": "spark"})
    raw = settings.spark_dir / "raw"
    write_lines(tmp_path / "a.ndjson", _events(5))
    import_files([tmp_path / "a.ndjson"], settings)
    assert load_spool(settings) == {"segments": 1, "events": 5, "quarantined": 0}
    assert list((raw / "events").rglob("*.parquet"))
    assert (raw / "quarantine").is_dir() and not list((raw / "quarantine").rglob("*.parquet"))


def test_a_first_load_of_only_rejected_lines_still_leaves_raw_events(settings, tmp_path):
    """dbt reads raw.events on the next build: a first batch with nothing valid must not leave it missing."""
    write_lines(tmp_path / "junk.ndjson", ["{not json", '{"event_id": "x"}'])
    import_files([tmp_path / "junk.ndjson"], settings)
    assert load_spool(settings) == {"segments": 1, "events": 0, "quarantined": 2}
    assert _query(settings, "select count(*) from raw.events") == [(0,)]
