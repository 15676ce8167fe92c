"""Simulated journeys → `journey import` → `journey run` (Dagster: dlt + dbt) → marts = ground truth.

The module's journeys have every realism case on (ingestion/simulator/realism.py: tied times, a
session opened by a state change, skewed browser clocks, transfers back and forth, several funnels,
a queue wait past the TTL, busy agents, retried copies, odd attribute values, days-late events)
over a period with Europe/Amsterdam's clock change, read in that zone; the five-load test runs for
two seeds.
"""

from __future__ import annotations

import csv
import json
import random
import secrets
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import load_spool
from ingestion.settings import Settings
from orchestration.defs.dbt.project import DBT_PROJECT_DIR
from orchestration.defs.dbt.stamps import marts_rows
from ingestion.simulator import Simulation, simulate, write_ndjson
from ingestion.simulator.realism import Realism
from tests.conftest import import_and_run, run_journey
from tests.support.dbt import run_dbt
from tests.truth.compare import (
    GRAINS,
    all_mart_mismatches,
    expected_rows,
    mart_mismatches,
    session_mismatches,
)

DAYS, PER_DAY, SEED = 3, 120, 11
SECOND_SEED = 23
N_LOADS = 5
# Europe/Amsterdam leaves summer time on 25 October 2026, inside the period.
START = datetime(2026, 10, 24, tzinfo=timezone.utc)
REALISM = Realism.all(clock_change_zone="Europe/Amsterdam")
# One pseudonymisation key for every home of this module, so their marts compare equal.
HASH_KEY = secrets.token_hex(32)
# A one-day recontact window: with the default seven, no session of three simulated days
# would be mature and the resolution-quality columns would all be null.
METRIC_SETTINGS = {"JOURNEY_RECONTACT_WINDOW_DAYS": "1", "JOURNEY_REPORTING_TIMEZONE": "Europe/Amsterdam"}


@pytest.fixture(scope="module", autouse=True)
def metric_settings():
    with pytest.MonkeyPatch.context() as env:
        for name, value in METRIC_SETTINGS.items():
            env.setenv(name, value)
        yield


def realistic(seed: int) -> Simulation:
    """The module's journeys for a seed; every realism case happened (the counts are printed)."""
    simulation = simulate(days=DAYS, sessions_per_day=PER_DAY, seed=seed, n_batches=N_LOADS, start=START,
                          realism=REALISM)
    print(f"realism cases, seed {seed}: {simulation.realism_counts}")
    assert simulation.realism_counts and all(n > 0 for n in simulation.realism_counts.values())
    assert len(simulation.events) > simulation.n_unique_events  # duplicates were delivered
    return simulation


@pytest.fixture(scope="module")
def sim():
    return realistic(SEED)


def journey(home: Path, *args: str, **options) -> str:
    return run_journey(home, HASH_KEY, *args, **options)


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _occurred(event: dict) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


def _dbt(warehouse: Path, target: Path, *args: str) -> str:
    """The dbt CLI on one warehouse; asserts it succeeded."""
    return run_dbt(*args, target_path=target, env={"JOURNEY_WAREHOUSE": str(warehouse)}).stdout


def settings_for(home: Path, **env: str) -> Settings:
    return Settings.from_env({"JOURNEY_HOME": str(home), "JOURNEY_HASH_KEY": HASH_KEY, **METRIC_SETTINGS, **env})


@pytest.fixture(scope="module")
def one_load(sim, tmp_path_factory):
    home = tmp_path_factory.mktemp("one_load")
    out = import_and_run(home, HASH_KEY, sim.events)
    return home, home / "events.ndjson", out


@pytest.mark.parametrize("mart", GRAINS)
def test_mart_equals_ground_truth(sim, one_load, mart):
    home, _, out = one_load
    settings = settings_for(home)
    assert "succeeded" in out
    assert mart_mismatches(settings.warehouse, sim, settings, mart) == []


def test_raw_holds_each_event_once(sim, one_load):
    home, _, _ = one_load
    with duckdb.connect(str(settings_for(home).warehouse), read_only=True) as con:
        total, distinct = con.sql("select count(*), count(distinct event_id) from raw.events").fetchall()[0]
    assert total == distinct == sim.n_unique_events


def test_state_transitions_agree_with_sessions(one_load):
    """Stage visits and sessions come from different models; their shared facts must agree."""
    home, _, _ = one_load
    with duckdb.connect(str(settings_for(home).warehouse), read_only=True) as con:
        disagreements = con.sql("""
            select s.session_id
            from marts.fct_sessions s
            left join (
                select session_id,
                       max(case when state in ('resolved', 'expired') then state end) as terminal,
                       bool_or(state = 'pending_agent') as escalated,
                       max(visit_index) as visits, count(*) as n
                from marts.fct_state_transitions group by session_id
            ) t using (session_id)
            where coalesce(t.terminal, 'open') <> s.final_state
               or t.escalated <> s.escalated
               or t.visits <> t.n
        """).fetchall()
        flagged = con.sql("select count(*) from marts.fct_state_transitions "
                          "where not is_valid_transition").fetchall()[0][0]
    assert disagreements == []
    assert flagged > 0  # the simulator sends a few transitions outside the graph


def test_dbt_keeps_no_tracking_id_in_the_project(one_load):
    """dbt's anonymous usage statistics are off (dbt_project.yml's flags): with them on,
    the run's dbt would write its tracking cookie into the project folder and post events."""
    assert not (DBT_PROJECT_DIR / ".user.yml").exists()


def test_import_and_run_again_change_nothing(one_load):
    home, path, _ = one_load
    warehouse = settings_for(home).warehouse
    before = marts_rows(warehouse, GRAINS)
    journey(home, "import", str(path))
    journey(home, "run")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        raw_rows = con.sql("select count(*) from raw.events").fetchall()[0][0]
    assert raw_rows == len({e["event_id"] for e in _read(path)})
    assert marts_rows(warehouse, GRAINS) == before


def _loads(sim: Simulation, rng: random.Random) -> tuple[list[list[tuple[dict, int]]], list[dict]]:
    """The delivery batches as loads of (event, delivery unit), 2 % of load 1's units held back
    until the last load (with the copies in later loads that share their unit, so tied events still
    arrive together); and the events held back from load 1."""
    loads = [[] for _ in range(N_LOADS)]
    for event, batch, unit in zip(sim.events, sim.batches, sim.units):
        loads[batch].append((event, unit))
    units = sorted({unit for _, unit in loads[1]})
    held = set(rng.sample(units, len(units) // 50))
    held_events = [event for event, unit in loads[1] if unit in held]
    for k in range(1, N_LOADS - 1):
        loads[-1] += [row for row in loads[k] if row[1] in held]
        loads[k] = [row for row in loads[k] if row[1] not in held]
    return loads, held_events


def _halves(rows: list[tuple[dict, int]], rng: random.Random) -> tuple[list[dict], list[dict]]:
    """A load shuffled across two files, each delivery unit whole in one of them."""
    units = sorted({unit for _, unit in rows})
    rng.shuffle(units)
    first = set(units[: len(units) // 2])
    rng.shuffle(rows)
    return [e for e, unit in rows if unit in first], [e for e, unit in rows if unit not in first]


def five_disordered_loads(sim: Simulation, home: Path, target: Path, seed: int) -> Settings:
    """Five loads, each shuffled across two spool segments; 2 % of load 1 held back until the
    last load, so it arrives days late, past the TTL of sessions already built; after load 2 only
    some models are built, reading stage visits and holds that stayed behind (a failed run, then a
    subset). Every run after the first is incremental; the marts equal the ground truth."""
    home.mkdir()
    rng = random.Random(seed)
    loads, held_events = _loads(sim, rng)
    watermark_before_last = max(_occurred(e) for rows in loads[:-1] for e, _ in rows)
    assert max(map(_occurred, held_events)) < watermark_before_last - timedelta(hours=24)
    settings = settings_for(home)
    for k, rows in enumerate(loads):
        halves = [home / f"load-{k}-{part}.ndjson" for part in (0, 1)]
        for path, events in zip(halves, _halves(rows, rng)):
            write_ndjson(events, path)
        journey(home, "import", *map(str, halves))
        if k == 2:
            load_spool(settings)
            # Stage visits and holds stay behind while models that read them are built.
            _dbt(settings.warehouse, target, "build", "--select", "+int_sessions__bounded",
                 "int_human_replies__attributed", "int_sessions__measured", "int_agent_responses__paired",
                 "--exclude-resource-type", "unit_test")
        else:
            journey(home, "run")
    assert all_mart_mismatches(settings.warehouse, sim, settings) == dict.fromkeys(GRAINS, [])
    return settings


def test_five_disordered_incremental_loads_equal_ground_truth(sim, one_load, tmp_path):
    """Late data (docs/contract.md §4.8), issue 6 disorder: `five_disordered_loads`; the marts
    also equal one full load and a full refresh."""
    settings = five_disordered_loads(sim, tmp_path / "loads", tmp_path / "target", SEED)
    incremental = marts_rows(settings.warehouse, GRAINS)
    assert incremental == marts_rows(settings_for(one_load[0]).warehouse, GRAINS)
    journey(settings.home, "run", "--full-refresh")
    assert marts_rows(settings.warehouse, GRAINS) == incremental


def test_five_disordered_loads_of_another_seed_equal_ground_truth(tmp_path):
    """The same five loads with other journeys: every realism case again, drawn anew."""
    five_disordered_loads(realistic(SECOND_SEED), tmp_path / "loads", tmp_path / "target", SECOND_SEED)


def test_a_changed_ttl_is_applied_by_the_next_incremental_run(tmp_path):
    """JOURNEY_TTL_HOURS changed between two `journey run`s with nothing new loaded:
    the next (incremental) run re-sessionizes every conversation cut with the old
    TTL, so the marts equal the ground truth at the new TTL and a full refresh."""
    sim = simulate(days=2, sessions_per_day=80, seed=7, ttl_hours=2)
    path = tmp_path / "events.ndjson"
    write_ndjson(sim.events, path)
    settings = settings_for(tmp_path, JOURNEY_TTL_HOURS="2")
    journey(tmp_path, "import", str(path))
    journey(tmp_path, "run", env={"JOURNEY_TTL_HOURS": "24"})
    assert session_mismatches(settings.warehouse, sim, settings) != []  # 24 h merges sessions the truth splits
    journey(tmp_path, "run", env={"JOURNEY_TTL_HOURS": "2"})
    incremental = marts_rows(settings.warehouse, GRAINS)
    assert all_mart_mismatches(settings.warehouse, sim, settings) == dict.fromkeys(GRAINS, [])
    journey(tmp_path, "run", "--full-refresh", env={"JOURNEY_TTL_HOURS": "2"})
    assert marts_rows(settings.warehouse, GRAINS) == incremental


def _sessions(warehouse: Path) -> dict[str, tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r[0]: r[1:] for r in con.sql(
            "select session_id, unified_user_id, recontacted from marts.fct_sessions").fetchall()}


def test_maturity_and_a_late_merge_follow_an_incremental_run(sim, tmp_path):
    """Resolution quality changes without new events in a conversation: the
    watermark matures sessions, and an `identify` that arrives late merges two
    people, so a session elsewhere becomes a recontact. The first run sees
    neither the last six hours nor any `identify`; the second, incremental run
    loads them. Both changes must land (asserted), and the marts must equal the
    ground truth and a full refresh."""
    home = tmp_path / "home"
    home.mkdir()
    cut = max(map(_occurred, sim.events)) - timedelta(hours=6)
    late = [e for e in sim.events if e["type"] == "identify" or _occurred(e) > cut]
    early = [e for e in sim.events if not (e["type"] == "identify" or _occurred(e) > cut)]
    settings = settings_for(home)
    for k, events in enumerate((early, late)):
        write_ndjson(events, home / f"part-{k}.ndjson")
        journey(home, "import", str(home / f"part-{k}.ndjson"))
        journey(home, "run")
        if k == 0:
            first = _sessions(settings.warehouse)
    second = _sessions(settings.warehouse)
    matured = [s for s, (_, recontacted) in first.items() if recontacted is None and second[s][1] is not None]
    merged = [s for s, (person, _) in first.items() if person != second[s][0]]
    assert matured and merged
    incremental = marts_rows(settings.warehouse, GRAINS)
    assert all_mart_mismatches(settings.warehouse, sim, settings) == dict.fromkeys(GRAINS, [])
    journey(home, "run", "--full-refresh")
    assert marts_rows(settings.warehouse, GRAINS) == incremental


def test_metric_settings_are_applied_by_the_next_run_without_a_full_refresh(sim, one_load, tmp_path):
    """Another recontact window, service level thresholds, short abandon bound and
    reporting time zone, set between two runs with nothing new loaded: the next
    run rebuilds what they change, and the marts equal the truth at the new values."""
    home = tmp_path / "home"
    shutil.copytree(one_load[0], home)
    changed = {"JOURNEY_RECONTACT_WINDOW_DAYS": "0.5", "JOURNEY_SERVICE_LEVEL_THRESHOLDS_S": "20,90,600",
               "JOURNEY_SHORT_ABANDON_S": "10", "JOURNEY_REPORTING_TIMEZONE": "America/New_York"}
    out = journey(home, "run", env=changed)
    assert "nothing new" not in out
    settings = settings_for(home, **changed)
    changed_marts = ("fct_sessions", "fct_queue_visits", "mart_service_level", "mart_resolution_quality", "mart_operational_heatmap")
    assert {mart: mart_mismatches(settings.warehouse, sim, settings, mart) for mart in changed_marts} == \
        dict.fromkeys(changed_marts, [])


def test_the_heatmap_follows_the_reporting_time_zone_across_a_clock_change(tmp_path):
    """Europe/Amsterdam leaves summer time on 25 October 2026 at 03:00 (01:00 UTC): the
    heatmap's local weekday and hour equal the truth's on both sides of the change."""
    sim = simulate(days=2, sessions_per_day=80, seed=3, start=datetime.fromisoformat("2026-10-24T00:00:00+00:00"))
    env = {"JOURNEY_REPORTING_TIMEZONE": "Europe/Amsterdam"}
    write_ndjson(sim.events, tmp_path / "events.ndjson")
    journey(tmp_path, "import", str(tmp_path / "events.ndjson"))
    journey(tmp_path, "run", env=env)
    settings = settings_for(tmp_path, **env)
    assert mart_mismatches(settings.warehouse, sim, settings, "mart_operational_heatmap") == []
    utc = settings_for(tmp_path, JOURNEY_REPORTING_TIMEZONE="UTC")
    assert mart_mismatches(settings.warehouse, sim, utc, "mart_operational_heatmap") != []
    # The report, in the same zone: its times say so, and its heatmap is the truth's.
    out = journey(tmp_path, "report", "--out", str(tmp_path / "reports"), env=env)
    folder = Path(out.split("folder:", 1)[1].split()[0])
    assert "Times are in Europe/Amsterdam." in (folder / "report.html").read_text()
    with (folder / "mart_operational_heatmap.csv").open() as extract:
        cells = {(int(r["iso_weekday"]), int(r["hour"])): int(r["sessions_started"]) for r in csv.DictReader(extract)}
    truth = expected_rows(sim, settings, "mart_operational_heatmap")
    assert cells == {(r["iso_weekday"], r["hour"]): r["sessions_started"] for r in truth}


def test_a_warehouse_from_an_older_version_stops_with_the_way_out(one_load, tmp_path):
    """An incremental table missing a column this version declares (as after an
    upgrade): `journey run` fails naming the table, the column and the full
    refresh, changes no mart, and `journey run --full-refresh` recovers."""
    home = tmp_path / "home"
    shutil.copytree(one_load[0], home)
    warehouse = settings_for(home).warehouse
    before = marts_rows(warehouse, GRAINS)
    with duckdb.connect(str(warehouse)) as con:
        con.sql("alter table intermediate.int_events__sessionized drop column ttl_ms")
    out = journey(home, "run", succeed=False)
    assert "int_events__sessionized was built by an older version" in out and "lacks ttl_ms" in out
    assert "journey run --full-refresh" in out
    assert marts_rows(warehouse, GRAINS) == before
    journey(home, "run", "--full-refresh")
    assert marts_rows(warehouse, GRAINS) == before


def test_demo_sends_through_the_collector_and_matches_ground_truth(tmp_path):
    """`journey demo`: simulator → HTTP collector → spool → dlt → dbt, then the truth."""
    out = journey(tmp_path, "demo", "--days", "2", "--sessions-per-day", "80", "--seed", "5", "--end", "2026-11-04")
    assert "collector acknowledged" in out and "succeeded" in out
    sim = simulate(days=2, sessions_per_day=80, seed=5)  # from 2 Nov 2026: ends on 4 Nov
    settings = settings_for(tmp_path)
    assert all_mart_mismatches(settings.warehouse, sim, settings) == dict.fromkeys(GRAINS, [])


def test_dbt_unit_tests_of_the_state_machine_pass(one_load, tmp_path):
    """dbt's own unit tests (invalid transition, cancelled expiry, transfer in human_active, …)."""
    # A copy: dbt needs the input relations' types, and its scratch tables stay out of the module's warehouse.
    warehouse = tmp_path / "unit.duckdb"
    shutil.copy(settings_for(one_load[0]).warehouse, warehouse)
    out = _dbt(warehouse, tmp_path / "target", "test", "--select", "test_type:unit")
    passed = int(out.rsplit("PASS=", 1)[1].split()[0])
    assert passed >= 18, out[-1000:]
