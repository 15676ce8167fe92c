"""The dbt project, prepared once per process (re-parsed whenever the project changed)."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
# The dbt installed beside this interpreter, whether or not the venv is on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))


def _manifest_is_stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = (p for d in ("models", "macros", "seeds", "tests") for p in (DBT_PROJECT_DIR / d).rglob("*"))
    return any(p.stat().st_mtime > built
               for p in (*sources, DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"))


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    # Our own preparer instead of `prepare_if_dev()`: that one looks for `dbt`
    # on PATH, which an un-activated venv does not have, and acts only under
    # `dagster dev`. Here any edit to the dbt project re-parses, wherever we run.
    if _manifest_is_stale(project.manifest_path):
        subprocess.run(
            [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
             "--profiles-dir", str(DBT_PROJECT_DIR)],
            check=True,
            env={**os.environ, "JOURNEY_WAREHOUSE": os.environ.get("JOURNEY_WAREHOUSE", "unused.duckdb")},
        )
    return project
