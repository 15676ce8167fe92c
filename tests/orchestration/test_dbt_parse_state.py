"""dbt's partial-parse state in a home outlives the checkout that wrote it: a home whose
checkout moved (or that another checkout shares) must not send dbt to the old folder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from orchestration.defs.dbt.project import DBT_PROJECT_DIR, target_for_this_project
from tests.support.dbt import run_dbt


def dbt(project_dir: Path, target: Path, warehouse: Path, *args: str) -> subprocess.CompletedProcess:
    return run_dbt(*args, target_path=target, env={"JOURNEY_WAREHOUSE": str(warehouse)},
                   project_dir=project_dir, timeout=300, check=False)


@pytest.fixture(scope="module")
def parsed_by_a_moved_checkout(tmp_path_factory) -> tuple[Path, Path]:
    """A target folder parsed (and marked) by a checkout that was moved away since. The
    tests use the same warehouse as the parse: its path is part of the state dbt compares."""
    root = tmp_path_factory.mktemp("moved")
    old, target, warehouse = root / "old-checkout" / "dbt_project", root / "target", root / "warehouse.duckdb"
    shutil.copytree(DBT_PROJECT_DIR, old, ignore=shutil.ignore_patterns("target", "logs"))
    assert dbt(old, target_for_this_project(target, old), warehouse, "parse").returncode == 0
    shutil.rmtree(root / "old-checkout")
    return target, warehouse


@pytest.fixture
def home(parsed_by_a_moved_checkout, tmp_path) -> tuple[Path, Path]:
    """A copy of that target folder, as in a home, and the warehouse."""
    target, warehouse = parsed_by_a_moved_checkout
    return shutil.copytree(target, tmp_path / "home" / "dbt" / "target"), warehouse


def test_a_home_parsed_by_a_moved_checkout_is_parsed_again_here(home):
    target, warehouse = home
    seeded = dbt(DBT_PROJECT_DIR, target_for_this_project(target), warehouse, "seed")

    assert seeded.returncode == 0, seeded.stdout[-3000:]
    assert (target / "project_dir.txt").read_text() == str(DBT_PROJECT_DIR)


def test_without_the_mark_dbt_reads_the_seed_from_the_old_folder(home):
    """Why the mark exists: dbt alone reuses the state and fails (or, were the old folder
    still there, would read the other checkout's files)."""
    seeded = dbt(DBT_PROJECT_DIR, *home, "seed")

    assert seeded.returncode != 0
    assert "old-checkout" in seeded.stdout


def test_the_state_of_this_checkout_is_kept(tmp_path):
    target = tmp_path / "target"
    target_for_this_project(target)
    (target / "partial_parse.msgpack").write_bytes(b"state")

    target_for_this_project(target)

    assert (target / "partial_parse.msgpack").read_bytes() == b"state"
