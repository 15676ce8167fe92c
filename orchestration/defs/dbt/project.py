"""The dbt project, prepared once per process (re-parsed whenever the project changed)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from functools import cache, cached_property
from importlib import metadata
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

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


class JourneyDbtCli(DbtCliResource):
    """dagster-dbt's CLI resource without the start-up it pays before every command.

    Before each `dbt build` the stock resource runs `dbt --version` in a subprocess
    (a whole dbt start-up, 3–5 s, to learn the version of the dbt installed beside
    this interpreter, which the package metadata already says) and builds a dbt
    adapter in-process (project, profile, plugin) that serves only to fetch row
    counts and column metadata, which these assets do not ask for. Both are
    private methods of the pinned dagster-dbt; tests/test_orchestration.py checks
    that a run starts dbt once.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_cli() -> JourneyDbtCli:
    return JourneyDbtCli(project_dir=dbt_project(), dbt_executable=DBT_EXECUTABLE)
