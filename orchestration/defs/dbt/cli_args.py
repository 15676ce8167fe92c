"""Pure helpers that turn run configuration into dbt CLI arguments."""

from __future__ import annotations

import json

import dagster as dg


class DbtRunConfig(dg.Config):
    """Run config of the dbt assets (Launchpad: `ops: journey_dbt: config:`)."""

    full_refresh: bool = False
    ttl_hours: float | None = None


def dbt_build_args(config: DbtRunConfig, dbt_vars: dict[str, object]) -> list[str]:
    """`dbt_vars` from `Settings.dbt_vars()`; the run config's `ttl_hours` overrides its TTL."""
    # dbt unit tests check the SQL, not the data; the test suite runs them.
    args = ["build", "--exclude-resource-type", "unit_test"]
    if config.ttl_hours is not None:
        dbt_vars = {**dbt_vars, "ttl_hours": config.ttl_hours}
    args += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    if config.full_refresh:
        args.append("--full-refresh")
    return args
