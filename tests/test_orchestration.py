"""Dagster definitions and the pure helpers behind them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ingestion.importer import import_files
from ingestion.simulator import simulate, write_ndjson
from orchestration.defs.dbt.cli_args import DbtRunConfig, dbt_build_args
from orchestration.runner import DAGSTER_YAML
from tests.collector_server import free_port

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("config", "default_ttl", "expected"),
    [
        (DbtRunConfig(), 24.0, ["build", "--exclude-resource-type", "unit_test", "--vars", '{"ttl_hours": 24.0}']),
        (DbtRunConfig(ttl_hours=6), 24.0, ["build", "--exclude-resource-type", "unit_test", "--vars", '{"ttl_hours": 6.0}']),
        (DbtRunConfig(full_refresh=True), 12.0, ["build", "--exclude-resource-type", "unit_test", "--vars", '{"ttl_hours": 12.0}', "--full-refresh"]),
    ],
)
def test_dbt_build_args(config, default_ttl, expected):
    assert dbt_build_args(config, default_ttl) == expected


def test_definitions_load_with_every_layer(settings):
    from orchestration.defs.build import build_definitions

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
    pools = {node.pools and tuple(node.pools) for node in defs.resolve_all_job_defs()[0].graph.node_defs}
    assert pools == {("duckdb",)}


def _cli_env(home: Path) -> dict[str, str]:
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    (home / "dagster" / "dagster.yaml").write_text(DAGSTER_YAML)
    env = {**os.environ, "JOURNEY_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    env.pop("JOURNEY_WAREHOUSE", None)
    return env


def test_workspace_validates_with_the_dagster_cli(tmp_path):
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, env=_cli_env(tmp_path), capture_output=True, text=True, timeout=300,
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
        [str(Path(sys.executable).with_name("dagster")), "asset", "materialize",
         "-m", "orchestration.definitions", "-a", "defs", "--select", "*"],
        cwd=REPO, env=_cli_env(home), capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        sessions = con.sql("select count(*) from marts.fct_sessions").fetchall()[0][0]
    assert sessions == len(sim.sessions)


def test_dagster_dev_serves_the_asset_graph(tmp_path):
    """`dagster dev -w workspace.yaml` starts and its GraphQL API lists our assets."""
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster")), "dev", "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=_cli_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    query = json.dumps({"query": """{
        assetNodes { assetKey { path } }
        workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError {
            __typename ... on PythonError { message } } } } }
    }"""}).encode()
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=query,
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    data = json.load(response)["data"]
                errors = [e["locationOrLoadError"] for e in data["workspaceOrError"]["locationEntries"]
                          if (e["locationOrLoadError"] or {}).get("__typename") == "PythonError"]
                assert not errors, errors
                nodes = data["assetNodes"]
                if nodes:
                    break
            except (OSError, KeyError, TypeError):
                pass
            assert proc.poll() is None, "dagster dev exited early"
            assert time.monotonic() < deadline, "dagster dev did not serve the asset graph in time"
            time.sleep(2)
        paths = {"/".join(n["assetKey"]["path"]) for n in nodes}
        assert {"raw/events", "marts/fct_sessions", "marts/fct_state_transitions"} <= paths
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
