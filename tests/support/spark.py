"""Spark in local mode for tests: settings with JOURNEY_DESTINATION=spark, and dbt run on any
target with the settings' environment, as `journey run` runs it.

Spark keeps its metastore (Derby, one process at a time) and its tables under
`$JOURNEY_HOME/spark`, so each home is its own warehouse; the tests run one
Spark process at a time.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ingestion.settings import Settings
from orchestration.defs.dbt.project import DBT_EXECUTABLE, DBT_PROJECT_DIR


def spark_settings(home: Path, hash_key: str) -> Settings:
    return Settings.from_env({"JOURNEY_HOME": str(home), "JOURNEY_HASH_KEY": hash_key,
                              "JOURNEY_DESTINATION": "spark"})


def dbt(settings: Settings, target: str, *args: str, env: dict[str, str] | None = None) -> str:
    """dbt on `target` with the settings' environment (Spark's folder, the DuckDB file); asserts success."""
    proc = subprocess.run(
        [DBT_EXECUTABLE, *args, "--target", target, "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(settings.home / f"dbt-{target}"),
         "--log-path", str(settings.home / "logs")],
        env={**os.environ, **settings.dbt_env(), **(env or {})}, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout
