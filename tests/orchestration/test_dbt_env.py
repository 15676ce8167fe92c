"""dbt reads the warehouse path and the memory bound from its environment
(dbt_project/profiles.yml): the definitions hand the settings' values to the
dbt resource instead of writing them into this process's environment."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest


def journey_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith("JOURNEY_")}


class Started(Exception):
    """Raised by the fake Popen: the command and environment were seen, nothing ran."""


def test_dbt_gets_the_settings_values_and_the_environment_stays_as_it_was(settings, tmp_path, monkeypatch):
    import dagster_dbt.core.dbt_cli_invocation as invocation

    from orchestration.defs.build import build_definitions
    from orchestration.defs.dbt.project import dbt_project

    monkeypatch.setenv("JOURNEY_WAREHOUSE", "the/operator's/relative.duckdb")
    monkeypatch.delenv("JOURNEY_DUCKDB_MEMORY_LIMIT", raising=False)
    settings = replace(settings, warehouse=tmp_path / "warehouse.duckdb", duckdb_memory_limit="1GB")
    before = journey_environment()
    dbt = build_definitions(settings).resources["dbt"]
    assert journey_environment() == before  # building the definitions wrote nothing

    seen = {}

    def popen(args, env, **kwargs):
        seen.update(env)
        raise Started

    monkeypatch.setattr(invocation.subprocess, "Popen", popen)
    with pytest.raises(Started):
        dbt.cli(["parse"], manifest=dbt_project(settings.dbt_env()).manifest_path, target_path=tmp_path / "target")
    assert seen["JOURNEY_WAREHOUSE"] == str(tmp_path / "warehouse.duckdb")
    assert seen["JOURNEY_DUCKDB_MEMORY_LIMIT"] == "1GB"
    assert journey_environment() == before  # put back as soon as dbt started
