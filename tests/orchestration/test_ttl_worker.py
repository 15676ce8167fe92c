"""TTL worker and spool sensor: expiries emitted once, loaded once, and reflected in the marts."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import timedelta, timezone

import dagster as dg
import duckdb
import pytest

from ingestion.settings import Settings
from ingestion.simulator import write_ndjson
from ingestion.spool import SpoolReader
from ingestion.ttl import emit_expiries
from tests.conftest import import_and_run, run_journey
from tests.truth import simulate
from tests.truth.compare import GRAINS, all_mart_mismatches

DAYS, PER_DAY, SEED = 2, 60, 21
HASH_KEY = secrets.token_hex(32)


@pytest.fixture(scope="module")
def sim():
    return simulate(days=DAYS, sessions_per_day=PER_DAY, seed=SEED)


def settings_for(home, **extra) -> Settings:
    return Settings.from_env({"JOURNEY_HOME": str(home), "JOURNEY_HASH_KEY": HASH_KEY, **extra})


@pytest.fixture
def built(sim, tmp_path):
    home = tmp_path / "home"
    import_and_run(home, HASH_KEY, sim.events)
    return home


def expiry_ids(settings: Settings) -> Counter:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return Counter(r[0] for r in con.sql(
            "select event_id from raw.events where type = 'conversation.expired'").fetchall())


def final_states(settings: Settings) -> Counter:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return Counter(dict(con.sql("select final_state, count(*) from marts.fct_sessions group by 1").fetchall()))


def test_worker_emits_each_expiry_once_and_changes_no_mart(sim, built):
    settings = settings_for(built)
    truth = Counter(s["final_state"] for s in sim.sessions)
    assert truth["expired"] > 0

    first = emit_expiries(settings)
    again = emit_expiries(settings)  # before any load: the same deterministic ids
    assert len(first) == truth["expired"]
    assert [e.event_id for e in again] == [e.event_id for e in first]
    expected_at = {s["session_id"]: s["ended_at"] for s in sim.sessions if s["final_state"] == "expired"}
    assert {e.session_id: e.expired_at for e in first} == expected_at

    run_journey(built, HASH_KEY, "run")
    assert expiry_ids(settings) == Counter({e.event_id: 1 for e in first})
    assert emit_expiries(settings) == []  # already in raw: nothing new
    assert all_mart_mismatches(settings.warehouse, sim, settings) == dict.fromkeys(GRAINS, [])


def test_wall_clock_mode_expires_idle_open_sessions_and_active_counts_follow(sim, built):
    settings = settings_for(built, JOURNEY_TTL_CLOCK="wall")
    truth = Counter(s["final_state"] for s in sim.sessions)
    assert truth["open"] > 0
    later = sim.watermark + timedelta(hours=2 * settings.ttl_hours)

    emitted = emit_expiries(settings, now=later)
    assert len(emitted) == truth["expired"] + truth["open"]

    run_journey(built, HASH_KEY, "run")
    assert final_states(settings) == Counter({"resolved": truth["resolved"],
                                             "expired": truth["expired"] + truth["open"]})
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        last_hour, active = con.sql("select hour_start, active_sessions from marts.mart_active_sessions "
                                    "order by hour_start desc limit 1").fetchall()[0]
    # The watermark moved to the last expiry; its hour counts only sessions that end inside it.
    newly = {e.session_id: e.expired_at for e in emitted}
    intervals = [(s["started_at"], s["ended_at"] or newly[s["session_id"]]) for s in sim.sessions]
    assert last_hour.replace(tzinfo=timezone.utc) == max(end for _, end in intervals).replace(
        minute=0, second=0, microsecond=0)
    last_hour = last_hour.replace(tzinfo=timezone.utc)
    assert active == sum(start <= last_hour < end for start, end in intervals) < truth["open"]


def test_spool_sensor_requests_one_run_per_set_of_waiting_segments(sim, settings, tmp_path):
    from orchestration.defs.build import build_definitions

    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("spool_segments_waiting")
    with dg.instance_for_test() as instance:
        skipped = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert skipped.run_requests == [] and "nothing waits in" in skipped.skip_message

        path = tmp_path / "events.ndjson"
        write_ndjson(sim.events[:500], path)
        run_journey(settings.home, HASH_KEY, "import", str(path))
        assert SpoolReader(settings.spool_dir).pending()
        first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance)).run_requests
        second = sensor.evaluate_tick(dg.build_sensor_context(instance=instance)).run_requests
    assert sensor.job_name == "load_and_transform" and len(first) == 1
    assert first[0].run_key == second[0].run_key


def test_ttl_worker_job_reports_what_it_emitted(built):
    from orchestration.defs.build import TTL_WORKER, build_definitions
    from orchestration.defs.ttl.assets import EXPIRY_EVENTS

    settings = settings_for(built)
    result = build_definitions(settings).resolve_job_def(TTL_WORKER).execute_in_process(
        instance=dg.DagsterInstance.ephemeral())
    assert result.success
    [event] = result.get_asset_materialization_events()
    assert event.asset_key == EXPIRY_EVENTS
    assert event.materialization.metadata["emitted"].value == len(emit_expiries(settings)) > 0
