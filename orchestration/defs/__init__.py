"""Dagster definitions grouped by integration (dlt, dbt), as in dagster-open-platform."""
