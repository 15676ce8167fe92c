"""Policies every asset shares, applied in one place."""

# DuckDB admits one read-write process per file: every asset that touches the
# warehouse runs in this pool, whose limit is 1 (see dagster.yaml).
DUCKDB_POOL = "duckdb"
OWNERS = ["team:data-platform"]
