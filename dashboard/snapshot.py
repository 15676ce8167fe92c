"""Read-only visits to the serving snapshot, one per request.

The pipeline replaces the snapshot by renaming a new file over the served path.
`duckdb.connect(path)` caches one database per path in a process, so a server
that connected once would keep serving the first file it opened. Each visit
instead opens an in-memory database, ATTACHes the file read-only (which opens
whatever file the path names now), and DETACHes it at the end: a new
publication shows on the next page load, and a page never mixes two of them.

DuckDB (2.0) opens the file by its path more than once while it reads it, so
a read that overlaps the rename of a new snapshot can meet blocks of both
files and fail with an I/O error ("Could not read enough bytes"): measured,
2 in 1,174 reads while new files were renamed over the path without pause.
`read` does such a read again, on the file the path names then.
"""

from __future__ import annotations

import re

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import duckdb

PARAMETER = re.compile(r"\$([a-z_]+)")
# A read that met a publication's rename is done again, this many times in all.
READ_ATTEMPTS = 3
T = TypeVar("T")

PUBLICATION_SQL = """
select version, published_at, data_watermark, run_id, events_loaded
from marts.publication
"""


class NoSnapshot(Exception):
    """The serving snapshot does not exist (yet) or is not one."""


@dataclass(frozen=True)
class Publication:
    version: int
    published_at: datetime
    data_watermark: datetime | None  # None: nothing loaded yet
    run_id: str
    events_loaded: int


class Visit:
    """One request's connection to one snapshot: queries bind only the named parameters they use."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con
        self.publication = self._publication()

    def table(self, sql: str, params: dict | None = None) -> tuple[list[str], list[tuple]]:
        """The query's column names and rows."""
        cursor = self._execute(sql, params)
        return [column[0] for column in cursor.description], cursor.fetchall()

    def rows(self, sql: str, params: dict | None = None) -> list[dict]:
        """The query's rows as dicts (column name → value)."""
        names, rows = self.table(sql, params)
        return [dict(zip(names, row)) for row in rows]

    def row(self, sql: str, params: dict | None = None) -> dict | None:
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    def arrow(self, sql: str, params: dict | None = None):
        """The query's result as a pyarrow Table (a relation's, which DuckDB hands over without a copy)."""
        return self._con.sql(sql, params=self._bound(sql, params)).to_arrow_table()

    def values(self, sql: str, params: dict | None = None) -> list:
        """The first column of every row."""
        return [row[0] for row in self._execute(sql, params).fetchall()]

    def _execute(self, sql: str, params: dict | None) -> duckdb.DuckDBPyConnection:
        return self._con.execute(sql, self._bound(sql, params))

    @staticmethod
    def _bound(sql: str, params: dict | None) -> dict:
        # DuckDB refuses named parameters a query does not use; every value is bound, never spliced.
        used = set(PARAMETER.findall(sql))
        return {name: value for name, value in (params or {}).items() if name in used}

    def _publication(self) -> Publication:
        try:
            rows = self._con.execute(PUBLICATION_SQL).fetchall()  # every row: no result left unfinished
            row = rows[0] if rows else None
        except duckdb.CatalogException:
            raise NoSnapshot("the file has no marts.publication: it is not a serving snapshot") from None
        if row is None:
            raise NoSnapshot("marts.publication is empty")
        return Publication(*row)


@contextmanager
def visit(path: Path) -> Iterator[Visit]:
    """The snapshot the path names now, attached read-only for the duration of the block."""
    if not path.is_file():
        raise NoSnapshot(f"no serving snapshot at {path} yet: `journey run` publishes one")
    con = duckdb.connect(":memory:")
    try:
        try:
            con.execute("attach ? as snapshot (read_only)", [str(path)])
        except duckdb.Error as exc:
            raise NoSnapshot(f"cannot open the serving snapshot {path}: {exc}") from None
        con.execute("use snapshot")
        try:
            yield Visit(con)
        finally:
            con.execute("use memory")
            con.execute("detach snapshot")
    finally:
        con.close()


def read(path: Path, body: Callable[[Visit], T]) -> T:
    """`body` over the snapshot the path names now, done again when it overlapped the
    rename of a new one (module docstring)."""
    for _ in range(READ_ATTEMPTS - 1):
        try:
            with visit(path) as snapshot:
                return body(snapshot)
        except duckdb.IOException:
            continue
    with visit(path) as snapshot:  # the last attempt: its error is the caller's
        return body(snapshot)
