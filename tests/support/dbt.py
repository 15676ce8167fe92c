"""The dbt CLI as the tests run it: this checkout's project (or a copy of it) with its own
profiles, a target folder of the test's, and the test's environment on top of ours."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from orchestration.defs.dbt.project import DBT_EXECUTABLE, DBT_PROJECT_DIR


def run_dbt(*args: str, target_path: Path, env: Mapping[str, str], project_dir: Path = DBT_PROJECT_DIR,
            timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
    """`dbt *args`; with `check`, asserts it succeeded and shows the end of its output if not."""
    proc = subprocess.run(
        [DBT_EXECUTABLE, *args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
         "--target-path", str(target_path)],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout,
    )
    if check:
        assert proc.returncode == 0, proc.stdout[-6000:]
    return proc
