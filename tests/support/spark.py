"""Spark in local mode for tests: settings with JOURNEY_DESTINATION=spark, and dbt run on any
target with the settings' environment, as `journey run` runs it.

Spark keeps its metastore (Derby, one process at a time) and its tables under
`$JOURNEY_HOME/spark`, so each home is its own warehouse; the tests run one
Spark process at a time.
"""

from __future__ import annotations

from pathlib import Path

from ingestion.settings import Settings
from tests.support.dbt import run_dbt


def spark_settings(home: Path, hash_key: str) -> Settings:
    return Settings.from_env({"JOURNEY_HOME": str(home), "JOURNEY_HASH_KEY": hash_key,
                              "JOURNEY_DESTINATION": "spark"})


def dbt(settings: Settings, target: str, *args: str, env: dict[str, str] | None = None) -> str:
    """dbt on `target` with the settings' environment (Spark's folder, the DuckDB file); asserts success."""
    return run_dbt(*args, "--target", target, "--log-path", str(settings.home / "logs"),
                   target_path=settings.home / f"dbt-{target}", env={**settings.dbt_env(), **(env or {})}).stdout
