"""The dbt project, prepared once per process (re-parsed whenever the project changed),
and the resource that runs dbt with the settings' variables (`Settings.dbt_env`)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache, cached_property
from importlib import metadata
from pathlib import Path

from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject
from packaging.version import Version
from pydantic import Field

from orchestration.defs.dbt.executable import DBT_EXECUTABLE

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"


def _manifest_is_stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = (p for d in ("models", "macros", "seeds", "tests") for p in (DBT_PROJECT_DIR / d).rglob("*"))
    return any(p.stat().st_mtime > built
               for p in (*sources, DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"))


def dbt_project(dbt_env: Mapping[str, str] | None = None) -> DbtProject:
    """The project, parsed when stale with `dbt_env` (`Settings.dbt_env()`) over the
    environment: its profile then renders as in the runs, whose partial parsing dbt
    would otherwise throw away (the profile's values are part of its state)."""
    return _prepared(tuple(sorted((dbt_env or {}).items())))


@cache
def _prepared(dbt_env: tuple[tuple[str, str], ...]) -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    # Our own preparer instead of `prepare_if_dev()`: that one looks for `dbt`
    # on PATH, which an un-activated venv does not have, and acts only under
    # `dagster dev`. Here any edit to the dbt project re-parses, wherever we run.
    if _manifest_is_stale(project.manifest_path):
        subprocess.run(
            [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
             "--profiles-dir", str(DBT_PROJECT_DIR)],
            check=True,
            env={"JOURNEY_WAREHOUSE": "unused.duckdb", **os.environ, **dict(dbt_env)},
        )
    return project


def target_for_this_project(target: Path, project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """`target`, without its partial-parse state when another project folder wrote it.

    Before reusing that state dbt compares its version, the vars, the profile and the
    project's files, not the folder they are in, and the state keeps absolute paths: a
    home used by a checkout that has since moved, or shared with another checkout, would
    load the seed from the old folder ("No files found that match the pattern"). The
    folder that wrote the state is kept beside it; on a change dbt parses once again.
    """
    target.mkdir(parents=True, exist_ok=True)
    writer = target / "project_dir.txt"
    if not writer.exists() or writer.read_text() != str(project_dir):
        (target / "partial_parse.msgpack").unlink(missing_ok=True)
        writer.write_text(str(project_dir))
    return target


@contextmanager
def _environment(overlay: Mapping[str, str]) -> Iterator[None]:
    """`overlay` over `os.environ` inside the block, the previous values after it."""
    saved = {name: os.environ.get(name) for name in overlay}
    os.environ.update(overlay)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class JourneyDbtCli(DbtCliResource):
    """dagster-dbt's CLI resource without the start-up it pays before every command.

    Before each `dbt build` the stock resource runs `dbt --version` in a subprocess
    (a whole dbt start-up, 3–5 s, to learn the version of the dbt installed beside
    this interpreter, which the package metadata already says) and builds a dbt
    adapter in-process (project, profile, plugin) that serves only to fetch row
    counts and column metadata, which these assets do not ask for. Both are
    private methods of the pinned dagster-dbt; tests/orchestration/test_definitions.py checks
    that a run starts dbt once.

    `env` is what dbt's profile reads from the settings (`Settings.dbt_env()`: the
    warehouse path, the memory bound), given to every dbt process it starts.
    """

    env: dict[str, str] = Field(default_factory=dict, description=(
        "Variables every dbt process gets over the environment: the settings' warehouse path and memory bound."))

    def cli(self, args: Sequence[str], **kwargs) -> DbtCliInvocation:
        # The stock `cli` builds the subprocess's environment from os.environ inline and
        # takes none of its own: `env` lies over os.environ while it starts the process.
        with _environment(self.env):
            return super().cli(args, **kwargs)

    @cached_property
    def _cli_version(self) -> Version:
        return Version(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_cli(dbt_env: Mapping[str, str] | None = None, target: str | None = None,
            executable: str | None = None) -> JourneyDbtCli:
    """The resource for settings whose `dbt_env()` is `dbt_env` and `dbt_target` is `target`
    (None: the profile's default, DuckDB); `executable` runs dbt (None: the installed dbt;
    `journey run` gives `executable.prestarted_dbt`'s)."""
    return JourneyDbtCli(project_dir=dbt_project(dbt_env), dbt_executable=executable or DBT_EXECUTABLE,
                         env=dict(dbt_env or {}),
                         target=target)
