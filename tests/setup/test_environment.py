"""`scripts/setup.sh` makes an environment that survives moving the checkout: its
commands (dbt's among them, which every run starts) find their interpreter relative to
themselves instead of naming the folder the checkout was in when it was set up."""

from __future__ import annotations

import sys
from pathlib import Path

VENV = Path(sys.prefix)


def test_the_environment_is_relocatable():
    assert "relocatable = true" in (VENV / "pyvenv.cfg").read_text().splitlines(), \
        f"{VENV} was not made by scripts/setup.sh; run it again"


def test_no_command_names_the_folder_it_was_installed_in():
    commands = [p for p in (VENV / "bin").iterdir() if p.is_file() and not p.name.startswith(("activate", "python"))]
    assert any(p.name == "dbt" for p in commands)
    pinned = [p.name for p in commands if str(VENV) in p.read_bytes()[:300].decode("utf-8", "replace")]
    assert pinned == []
