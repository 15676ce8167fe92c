"""Dagster definitions and the pure helpers behind them."""

from __future__ import annotations

import json
import subprocess
import sys

import dagster as dg
import duckdb
import pytest

from ingestion.importer import import_files
from ingestion.settings import Settings
from ingestion.simulator import simulate, write_ndjson
from orchestration.defs.dbt.cli_args import DbtRunConfig, dbt_build_args
from orchestration.defs.dbt.project import dbt_cli
from tests.support.dagster_server import DAGSTER, REPO, dagster_env, dagster_dev

VARS = {"ttl_hours": 24.0, "reporting_timezone": "UTC", "service_level_thresholds_s": [60, 300]}
BUILD = ["build", "--exclude-resource-type", "unit_test", "--vars"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (DbtRunConfig(), [*BUILD, '{"reporting_timezone": "UTC", "service_level_thresholds_s": [60, 300], '
                                  '"ttl_hours": 24.0}']),
        (DbtRunConfig(ttl_hours=6), [*BUILD, '{"reporting_timezone": "UTC", "service_level_thresholds_s": '
                                             '[60, 300], "ttl_hours": 6.0}']),
        (DbtRunConfig(full_refresh=True), [*BUILD, '{"reporting_timezone": "UTC", "service_level_thresholds_s": '
                                                   '[60, 300], "ttl_hours": 24.0}', "--full-refresh"]),
    ],
)
def test_dbt_build_args(config, expected):
    assert dbt_build_args(config, VARS) == expected


def test_every_dbt_var_of_the_settings_reaches_the_build():
    settings = Settings.from_env({"JOURNEY_HOME": "/tmp/x", "JOURNEY_RECONTACT_WINDOW_DAYS": "3",
                                  "JOURNEY_SERVICE_LEVEL_THRESHOLDS_S": "300, 20", "JOURNEY_SHORT_ABANDON_S": "0",
                                  "JOURNEY_REPORTING_TIMEZONE": "Europe/Amsterdam", "JOURNEY_TTL_HOURS": "2"})
    passed = json.loads(dbt_build_args(DbtRunConfig(), settings.dbt_vars())[4])
    assert passed == {"ttl_hours": 2.0, "recontact_window_days": 3.0, "service_level_thresholds_s": [20, 300],
                      "short_abandon_s": 0.0, "reporting_timezone": "Europe/Amsterdam"}


def test_the_dbt_resource_starts_dbt_only_for_the_command(monkeypatch):
    """The stock resource ran `dbt --version` (a whole dbt start-up) and built an
    adapter in-process before every command; ours knows the version from the package."""
    import dagster_dbt.core.resource as stock
    from dbt.version import __version__ as dbt_version
    from packaging.version import Version

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"a subprocess was started: {args}")

    monkeypatch.setattr(stock, "check_output", no_subprocess)
    resource = dbt_cli()
    assert resource._cli_version == Version(dbt_version)
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_building_the_definitions_leaves_the_checks_libraries_for_later(settings):
    """Every run builds the definitions before its load; Great Expectations and pandas
    (about a second of imports) load on a thread while dbt builds, not before the load."""
    code = ("import sys\nfrom ingestion.settings import Settings\n"
            "from orchestration.defs.build import build_definitions\n"
            "build_definitions(Settings.from_env())\n"
            "print(sorted(name for name in ('pandas', 'great_expectations') if name in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1:] == ["[]"], done.stdout + done.stderr


def test_definitions_load_with_every_layer(settings):
    from orchestration.defs.build import LOAD_AND_TRANSFORM, build_definitions
    from orchestration.defs.report.assets import REPORT_JOB

    defs = build_definitions(settings)
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw/events", "raw/quarantine", "staging/stg_raw__events",
            "intermediate/int_events__sessionized", "marts/fct_sessions",
            "marts/fct_state_transitions"} <= keys
    # raw/events feeds staging: dlt and dbt share one lineage graph
    assert dg.AssetKey(["raw", "events"]) in graph.get(dg.AssetKey(["staging", "stg_raw__events"])).parent_keys
    checks = {c.name for c in graph.asset_check_keys}
    assert "unique_fct_sessions_session_id" in checks
    # Every step that touches the warehouse queues in the one-slot pool; the report reads
    # only the serving snapshot, so it takes no slot and never waits for a run.
    pools = {node.name: node.pools and tuple(node.pools)
             for node in defs.resolve_job_def(LOAD_AND_TRANSFORM).graph.node_defs}
    assert set(pools.values()) == {("duckdb",)} and "serving__marts_snapshot" in pools
    [report] = defs.resolve_job_def(REPORT_JOB).graph.node_defs
    assert not report.pools


def test_workspace_validates_with_the_dagster_cli(tmp_path):
    proc = subprocess.run(
        [DAGSTER, "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, env=dagster_env(tmp_path), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_dagster_asset_materialize_builds_everything(settings, tmp_path):
    """`dagster asset materialize --select '*'`, the way an operator runs it."""
    sim = simulate(days=1, sessions_per_day=60, seed=3)
    path = tmp_path / "events.ndjson"
    write_ndjson(sim.events, path)
    import_files([path], settings)
    home = settings.home
    proc = subprocess.run(
        [DAGSTER, "asset", "materialize",
         "-m", "orchestration.definitions", "-a", "defs", "--select", "*"],
        # A process per step (the CLI's default executor): 16 steps, each importing Dagster and dbt.
        cwd=REPO, env=dagster_env(home), capture_output=True, text=True, timeout=1500,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        sessions = con.sql("select count(*) from marts.fct_sessions").fetchall()[0][0]
    assert sessions == len(sim.sessions)


def test_dagster_dev_serves_the_asset_graph(tmp_path):
    """`dagster dev -w workspace.yaml` starts and its GraphQL API lists our assets."""
    with dagster_dev(tmp_path) as (_, nodes):
        paths = {"/".join(n["assetKey"]["path"]) for n in nodes}
    assert {"raw/events", "marts/fct_sessions", "marts/fct_state_transitions", "spool/expiry_events",
            "reports/stakeholder_report"} <= paths

