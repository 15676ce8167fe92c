"""Pure helpers that turn run configuration into dbt CLI arguments."""

from __future__ import annotations

import json

import dagster as dg


class DbtRunConfig(dg.Config):
    """Run config of the dbt assets (Launchpad: `ops: journey_dbt: config:`)."""

    full_refresh: bool = False
    ttl_hours: float | None = None


def dbt_build_args(config: DbtRunConfig, default_ttl_hours: float) -> list[str]:
    # dbt unit tests check the SQL, not the data; the test suite runs them.
    args = ["build", "--exclude-resource-type", "unit_test"]
    ttl = config.ttl_hours if config.ttl_hours is not None else default_ttl_hours
    args += ["--vars", json.dumps({"ttl_hours": ttl}, sort_keys=True)]
    if config.full_refresh:
        args.append("--full-refresh")
    return args
