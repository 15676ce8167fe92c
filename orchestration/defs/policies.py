"""Policies every asset shares, applied in one place."""

from datetime import timedelta

import dagster as dg

# DuckDB admits one read-write process per file: every asset that touches the
# warehouse runs in this pool, whose limit is 1 (see dagster.yaml).
DUCKDB_POOL = "duckdb"
OWNERS = ["team:data-platform"]

# The hourly schedule (and the spool sensor, sooner) rebuild the marts; a mart
# older than this is a missed run the UI should flag (warn first, then fail).
MART_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=3), warn_window=timedelta(hours=2))
