"""Great Expectations suites as blocking Dagster checks on the marts.

Each suite loads whole (GX drops an invalid expectation with a log line), the
checks pass on a warehouse built by the real pipeline, name the expectation
and column a corrupted mart breaks, and keep a failed mart out of the serving snapshot.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ingestion.importer import import_files
from ingestion.settings import Settings
from ingestion.simulator import simulate, write_ndjson
from orchestration.defs.build import LOAD_AND_TRANSFORM, build_definitions
from orchestration.defs.checks.assets import build_gx_checks, run_suites
from orchestration.defs.checks.suites import suite_files, to_gx_suite
from orchestration.defs.checks.validated import ValidatedThrough, state_path
from orchestration.defs.dbt.project import DBT_PROJECT_DIR
from orchestration.defs.serving.assets import SNAPSHOT_KEY
from orchestration.runner import run_load_and_transform

# Every model of the marts folder must have a suite (a new mart without one fails here).
MARTS = {path.stem for path in (DBT_PROJECT_DIR / "models" / "marts").glob("*.sql")}
SUITES = {suite.mart: suite for suite in suite_files()}


def test_every_mart_has_a_suite_named_after_it():
    assert set(SUITES) == MARTS
    assert all(suite.config["name"] == mart for mart, suite in SUITES.items())


@pytest.mark.parametrize("mart", sorted(MARTS))
def test_suite_loads_exactly_its_declared_expectations(mart):
    suite = SUITES[mart]
    loaded = to_gx_suite(suite)
    assert len(loaded.expectations) == suite.declared_count == len(suite.config["expectations"])


def test_a_suite_that_gx_would_silently_shorten_is_refused():
    suite = SUITES["mart_handovers"]
    typo = {"type": "expect_column_values_to_be_positive", "kwargs": {"column": "handovers"}}
    config = {**suite.config, "expectations": [*suite.config["expectations"], typo],
              "meta": {"expectation_count": suite.declared_count + 1}}
    with pytest.raises(ValueError, match=f"accepted {suite.declared_count} of the {suite.declared_count + 1}"):
        to_gx_suite(replace(suite, config=config))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A warehouse built by `run_load_and_transform`, as `journey run` does, and its GX evaluations."""
    home = tmp_path_factory.mktemp("quality")
    sim = simulate(days=2, sessions_per_day=60, seed=13)
    events = home / "events.ndjson"
    write_ndjson(sim.events, events)
    with pytest.MonkeyPatch.context() as env:
        # The settings are read from these and the runner exports DAGSTER_HOME; the context restores them.
        env.setenv("JOURNEY_HOME", str(home))
        env.setenv("DAGSTER_HOME", str(home / "dagster"))
        env.setenv("JOURNEY_WAREHOUSE", str(home / "warehouse.duckdb"))
        settings = Settings.from_env()
        import_files([events], settings)
        summary = run_load_and_transform(settings)
        with dg.DagsterInstance.get() as instance:
            records = instance.all_logs(summary.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    evaluations = {r.dagster_event.event_specific_data.check_name: r.dagster_event.event_specific_data
                   for r in records}
    return settings, summary, evaluations


def test_checks_target_the_real_marts_block_and_share_the_duckdb_pool(built):
    settings, _, _ = built
    graph = build_definitions(settings).resolve_asset_graph()
    checks = build_gx_checks(settings)
    specs = list(checks.check_specs)
    assert {spec.asset_key for spec in specs} == {dg.AssetKey(["marts", m]) for m in MARTS}
    assert {spec.asset_key for spec in specs} <= set(graph.get_all_asset_keys())
    assert {spec.key for spec in specs} <= set(graph.asset_check_keys)
    assert all(spec.blocking for spec in specs)
    assert checks.op.pools == {"duckdb"}


def test_load_and_transform_runs_in_one_process(built):
    """Its steps share a pool of one anyway; a process per GX check made UI runs 7× slower."""
    job = build_definitions(built[0]).resolve_job_def(LOAD_AND_TRANSFORM)
    assert job.executor_def is dg.in_process_executor


def test_load_and_transform_runs_every_gx_check_and_they_pass(built):
    _, summary, evaluations = built
    assert summary.success, summary.failure
    gx = {name: e for name, e in evaluations.items() if name.startswith("gx_")}
    assert {name: e.passed for name, e in gx.items()} == {f"gx_{m}": True for m in MARTS}
    for mart in MARTS:
        metadata = gx[f"gx_{mart}"].metadata
        assert metadata["expectations_evaluated"].value == SUITES[mart].declared_count
        assert metadata["expectations_failed"].value == 0
        # GX gets the columns its suite reads, not the whole mart.
        assert metadata["columns_read"].value == len(SUITES[mart].columns)


def test_every_suite_runs_in_one_step_with_one_gx_context(built, monkeypatch):
    """Great Expectations is imported and its context made once a run, not once a mart."""
    settings, summary, _ = built
    monkeypatch.setenv("DAGSTER_HOME", str(settings.home / "dagster"))
    with dg.DagsterInstance.get() as instance:
        steps = {r.dagster_event.step_key for r in instance.all_logs(
            summary.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)}
    assert steps == {"journey_dbt", "gx_suites"}


def test_a_subset_of_the_checks_validates_only_what_was_picked(built, tmp_path):
    settings = warehouse_copy(built[0], tmp_path / "home")
    key = dg.AssetCheckKey(dg.AssetKey(["marts", "mart_handovers"]), "gx_mart_handovers")
    job = dg.Definitions(asset_checks=[build_gx_checks(settings)],
                         jobs=[dg.define_asset_job("one", selection=dg.AssetSelection.checks(key))]
                         ).resolve_job_def("one")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert [(e.check_name, e.passed) for e in result.get_asset_check_evaluations()] == [("gx_mart_handovers", True)]


DUPLICATE_SESSION = "insert into marts.fct_sessions select * from marts.fct_sessions limit 1"
# (mart, SQL that breaks it, words the failure must contain, failed expectations)
CORRUPTIONS = [
    pytest.param("fct_sessions", DUPLICATE_SESSION,
                 "expect_column_values_to_be_unique(column=session_id) — one row per session: 2 of", 1,
                 id="duplicate-session"),
    pytest.param("fct_sessions", "update marts.fct_sessions set ended_at = started_at where final_state = 'open'",
                 "expect_column_values_to_be_null(column=ended_at) where final_state == open — "
                 "an open session has no end yet:", 1,
                 id="open-session-with-an-end"),
    pytest.param("fct_state_transitions", "update marts.fct_state_transitions set dwell_s = -5 where session_id = "
                 "(select min(session_id) from marts.fct_state_transitions) and visit_index = 1",
                 "expect_column_values_to_be_between(column=dwell_s, min_value=0.0): 1 of", 1,
                 id="negative-dwell"),
    pytest.param("mart_friction", "update marts.mart_friction set sessions_advanced = sessions_reached + 1 "
                 "where step_index = 1",
                 "expect_column_pair_values_a_to_be_greater_than_b(column_A=sessions_reached, "
                 "column_B=sessions_advanced, or_equal=True) — only sessions that reached a step can advance", 1,
                 id="advanced-more-than-reached"),
    pytest.param("mart_operational_heatmap",
                 "delete from marts.mart_operational_heatmap where iso_weekday = 1 and hour = 3",
                 "expect_table_row_count_to_equal(value=168) — all 7 × 24 cells, empty ones included: observed 167", 1,
                 id="missing-heatmap-cell"),
    pytest.param("mart_service_level", "update marts.mart_service_level set offered = offered - 1 where offered > 0",
                 "expect_column_pair_values_to_be_equal(column_A=offered, column_B=offered_by_definition) — "
                 "offered = answered + abandoned - short_abandoned:", 1,
                 id="offered-not-as-defined"),
    pytest.param("mart_ghost_rate", "alter table marts.mart_ghost_rate drop column unlinked_events",
                 'could not be evaluated: Error: The column "unlinked_events" in BatchData does not exist', 2,
                 id="dropped-column"),
]


def warehouse_copy(settings: Settings, home: Path, breaking_sql: str | None = None) -> Settings:
    """A copy, so the module's warehouse stays whole for the other tests."""
    home.mkdir()
    shutil.copy(settings.warehouse, home / "warehouse.duckdb")
    if breaking_sql:
        with duckdb.connect(str(home / "warehouse.duckdb")) as con:
            con.execute(breaking_sql)
    return Settings.from_env({"JOURNEY_HOME": str(home)})


@pytest.mark.parametrize(("mart", "sql", "words", "failed"), CORRUPTIONS)
def test_a_corrupted_mart_fails_its_check_with_a_message_naming_what_broke(built, tmp_path, mart, sql, words,
                                                                           failed):
    settings = warehouse_copy(built[0], tmp_path / "home", sql)
    [result] = run_suites(settings.warehouse, [SUITES[mart]])
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["expectations_failed"].value == failed
    assert words in result.metadata["failures"].value


def test_a_failed_mart_check_leaves_the_previous_snapshot_byte_for_byte(built, tmp_path):
    """The marts' checks and the publication, as load_and_transform runs them: a clean warehouse
    is published; a broken one is not, and readers keep the previous file unchanged."""
    serving = tmp_path / "serving" / "journey.duckdb"
    outcomes, snapshots = {}, {}
    for case, sql in (("clean", None), ("broken", DUPLICATE_SESSION)):
        settings = replace(warehouse_copy(built[0], tmp_path / case, sql), serving_db=serving)
        defs = build_definitions(settings)
        gx_checks = [k for k in defs.resolve_asset_graph().asset_check_keys if k.name.startswith("gx_")]
        checked_publication = dg.define_asset_job(
            "checked_publication",
            selection=dg.AssetSelection.checks(*gx_checks) | dg.AssetSelection.assets(SNAPSHOT_KEY))
        job = dg.Definitions.merge(defs, dg.Definitions(jobs=[checked_publication])).resolve_job_def(
            "checked_publication")
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(instance=instance, raise_on_error=False)
        outcomes[case] = (
            {e.check_name for e in result.get_asset_check_evaluations() if not e.passed},
            {m.event_specific_data.materialization.asset_key for m in result.get_asset_materialization_events()},
        )
        snapshots[case] = serving.read_bytes()
    assert outcomes["clean"] == (set(), {SNAPSHOT_KEY})
    assert outcomes["broken"] == ({"gx_fct_sessions"}, set())
    assert snapshots["broken"] == snapshots["clean"]


def _stamped(settings: Settings, sql: str) -> None:
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(sql)


def test_a_stamped_mart_is_validated_above_the_last_passing_stamp(built, tmp_path):
    """fct_session_events stamps each build's rows: a check after a build reads only the rows above
    the stamp of the last passing check, a failure does not move the stamp, and a check run on its own
    reads every row."""
    settings = warehouse_copy(built[0], tmp_path / "home")
    suite = SUITES["fct_session_events"]
    validated = ValidatedThrough(tmp_path / "validated.json")
    [first] = run_suites(settings.warehouse, [suite], validated)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows, stamp = con.execute("select count(*), max(build_seq) from marts.fct_session_events").fetchone()
    assert first.passed and first.metadata["rows_validated"].value == rows > 1000
    assert ValidatedThrough(tmp_path / "validated.json").get("fct_session_events") == stamp

    copy_one = ("insert into marts.fct_session_events by name select * replace ({kind} as event_type, "
                f"{stamp + 1} as build_seq, event_seq + 100000 as event_seq) from marts.fct_session_events limit 1")
    _stamped(settings, copy_one.format(kind="'bogus.type'"))
    above = lambda mart: validated.get(mart)  # noqa: E731 (as a check after the mart's build asks)
    [bad] = run_suites(settings.warehouse, [suite], validated, above)
    assert not bad.passed and bad.metadata["rows_validated"].value == 1
    assert "every event_type is one of the wire format's" in bad.metadata["failures"].value
    assert validated.get("fct_session_events") == stamp  # not moved by a failure

    _stamped(settings, f"delete from marts.fct_session_events where build_seq = {stamp + 1}")
    _stamped(settings, copy_one.format(kind="event_type"))
    [good] = run_suites(settings.warehouse, [suite], validated, above)
    assert good.passed and good.metadata["rows_validated"].value == 1
    assert validated.get("fct_session_events") == stamp + 1

    _stamped(settings, "update marts.fct_session_events set event_type = 'bogus.type' where rowid = 0")
    [old_bad] = run_suites(settings.warehouse, [suite], validated)  # a check on its own: every row
    assert not old_bad.passed and old_bad.metadata["rows_validated"].value == rows + 1


def test_a_second_run_validates_only_the_rows_it_wrote(built, tmp_path):
    """Through Dagster: the second run of the same warehouse (which loads only the TTL worker's
    expiry events) checks the rows each stamped mart rewrote, stamped above the first run's pass,
    not the whole mart, while an unstamped mart's check (`dim_users`) still reads all of it."""
    settings, _, _ = built
    home = tmp_path / "home"
    shutil.copytree(settings.home, home)
    stamped = ("fct_session_events", "fct_sessions", "fct_state_transitions", "fct_agent_sessions",
               "fct_agent_responses", "fct_queue_visits")
    before = {mart: ValidatedThrough(state_path(home)).get(mart) for mart in stamped}
    assert None not in before.values(), before
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JOURNEY_HOME", str(home))
        env.setenv("DAGSTER_HOME", str(home / "dagster"))
        env.setenv("JOURNEY_WAREHOUSE", str(home / "warehouse.duckdb"))
        summary = run_load_and_transform(Settings.from_env())
        with dg.DagsterInstance.get() as instance:
            records = instance.all_logs(summary.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    metadata = {r.dagster_event.event_specific_data.check_name: r.dagster_event.event_specific_data.metadata
                for r in records}
    assert summary.success
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        counts = {mart: con.execute(
            f"select count(*), count(*) filter (where build_seq > ?), max(build_seq) from marts.{mart}",
            [before[mart]]).fetchone() for mart in stamped}
        people = con.execute("select count(*) from marts.dim_users").fetchone()[0]
    for mart, (total, rewritten, stamp) in counts.items():
        assert metadata[f"gx_{mart}"]["rows_validated"].value == rewritten < total / 2, mart
        assert f"build_seq > {before[mart]}" in metadata[f"gx_{mart}"]["rows_read"].value, mart
        assert ValidatedThrough(state_path(home)).get(mart) == stamp, mart
    assert counts["fct_session_events"][1] > 0  # the expiries rewrote some conversations
    assert metadata["gx_dim_users"]["rows_validated"].value == people


def test_the_checks_load_gx_without_pyspark_even_under_python_c():
    """With the `spark` extra installed GX would import pyspark, whose doctest guard ends a
    `python -c` process silently; the checks hide it from GX (orchestration/defs/checks/gx.py)."""
    code = ("import sys\nfrom orchestration.defs.checks.validation import Validator\nValidator()\n"
            "print('loaded; pyspark imported:', 'pyspark' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=DBT_PROJECT_DIR.parent, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1:] == ["loaded; pyspark imported: False"], \
        done.stdout + done.stderr
