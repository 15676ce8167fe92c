"""docs/code-map.md names the file that decides each rule: every file it names exists."""

from __future__ import annotations

import re

from tests.support import REPO

CODE_MAP = REPO / "docs" / "code-map.md"
# dbt paths in the map are written from the dbt project's folder, as dbt names them.
ROOTS = (REPO, REPO / "dbt_project")
FILE_SUFFIXES = (".py", ".sql", ".json", ".csv", ".yml", ".md")
# A bare file name is looked for in the project's own folders, not in the venv or a home.
SOURCES = ("ingestion", "orchestration", "dashboard", "dbt_project", "expectations", "schemas", "docs")


def named_paths(text: str) -> set[str]:
    """Backticked names that look like files or folders (a slash or a file suffix)."""
    names = set()
    for token in re.findall(r"`([^`\s]+)`", text):
        token = token.replace("<mart>", "fct_sessions")
        if "/" in token or token.endswith(FILE_SUFFIXES):
            names.add(token)
    return names


def exists(name: str) -> bool:
    if "/" in name:
        return any((root / name).exists() for root in ROOTS)
    return any(any((REPO / folder).rglob(name)) for folder in SOURCES)


def test_every_file_the_code_map_names_exists():
    names = named_paths(CODE_MAP.read_text())
    assert len(names) > 30  # the map is read, not skipped
    assert sorted(name for name in names if not exists(name)) == []


def test_a_missing_file_is_caught():
    assert not exists("models/intermediate/sessions/int_no_such_model.sql")
    assert not exists("base_of_nothing.py")
    assert named_paths("see `ingestion/nowhere.py` and `dbt_project.yml`, not `vars`") == {
        "ingestion/nowhere.py", "dbt_project.yml"}
