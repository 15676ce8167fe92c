"""The build stamps incremental models put on their rows (dbt_project/macros/incremental.sql).

`build_seq` numbers the dbt build that wrote a row; `upstream_build_seq` and
`people_build_seq` the upstream builds it consumed. The checks read only rows
stamped after their last pass and the publication patches the conversations
stamped after its last copy. The stamps are bookkeeping, not data: an
incremental run and a full build of the same events number their builds
differently, so two warehouses are compared without them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

STAMP = "build_seq"


def is_stamp(column: str) -> bool:
    """`build_seq`, `upstream_build_seq`, `people_build_seq`."""
    return column.endswith(STAMP)


def marts_rows(database: Path, tables: Iterable[str] | None = None) -> dict[str, list[tuple]]:
    """The rows of each table of the `marts` schema (`tables`, or every table but the
    serving snapshot's publication record), sorted and without the stamps: two builds
    of the same events give equal results."""
    import duckdb

    from orchestration.defs.serving.publish import PUBLICATION, SCHEMA

    with duckdb.connect(str(database), read_only=True) as con:
        names = dict(con.execute(
            "select table_name, list(column_name order by column_index) from duckdb_columns() "
            "where schema_name = $schema and table_name != $publication group by table_name",
            {"schema": SCHEMA, "publication": PUBLICATION}).fetchall())
        rows = {}
        for table in sorted(names) if tables is None else tables:
            kept = ", ".join(f'"{c}"' for c in names[table] if not is_stamp(c))
            rows[table] = con.sql(f'select {kept} from {SCHEMA}."{table}" order by all').fetchall()
        return rows
