"""With JOURNEY_DESTINATION=spark, the tables Spark built, seen from DuckDB.

Spark keeps its tables as Parquet folders under `$JOURNEY_HOME/spark`. After
each build the DuckDB warehouse file gets a view per mart (and `raw.events`)
over those files, so the quality checks and the publication of the serving
snapshot read the Spark marts exactly as they read DuckDB's, and readers
still get one DuckDB file. Spark's timestamps (UTC instants in Parquet) are
given back as the plain UTC timestamps the marts have on DuckDB.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.loader import EVENTS_SCHEMA, RAW_DATASET
from ingestion.settings import Settings

MIRRORED_SCHEMAS = ("marts",)


def _files(folder: Path) -> str | None:
    """The glob of a table folder's Parquet files (partition folders included), None when it has none."""
    if not any(folder.rglob("*.parquet")):
        return None
    return str(folder / "**" / "*.parquet").replace("'", "''")


def _plain_utc(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """`source`'s columns, timestamps with time zone as plain UTC timestamps."""
    columns = con.execute(f"describe select * from {source}").fetchall()
    return ", ".join(f'timezone(\'UTC\', "{name}") as "{name}"' if kind == "TIMESTAMP WITH TIME ZONE"
                     else f'"{name}"' for name, kind, *_ in columns)


def _empty_events() -> str:
    """raw.events before Spark's first load: no rows, the loader's columns."""
    kinds = {pa.string(): "varchar"}
    return "select " + ", ".join(f"cast(null as {kinds.get(f.type, 'timestamp')}) as {f.name}"
                                 for f in EVENTS_SCHEMA) + " where false"


def spark_table_views(con: duckdb.DuckDBPyConnection, spark_dir: Path) -> list[str]:
    """Creates (or replaces) on `con` a view `<schema>.<table>` over every table of Spark's
    `MIRRORED_SCHEMAS` under `spark_dir`, and `raw.events`; returns the views' names."""
    con.execute("set TimeZone = 'UTC'")
    folders = {f"{schema}.{table.name}": table for schema in MIRRORED_SCHEMAS
               for table in sorted((spark_dir / "warehouse" / f"{schema}.db").glob("*")) if table.is_dir()}
    folders[f"{RAW_DATASET}.events"] = spark_dir / RAW_DATASET / "events"
    for name, folder in folders.items():
        con.execute(f"create schema if not exists {name.split('.')[0]}")
        files = _files(folder)
        source = f"read_parquet('{files}', hive_partitioning = true)" if files else f"({_empty_events()})"
        con.execute(f"create or replace view {name} as select {_plain_utc(con, source)} from {source}")
    return sorted(folders)


def mirror_spark_tables(settings: Settings) -> list[str]:
    """The views in the settings' DuckDB warehouse file, after a build on Spark."""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as con:
        return spark_table_views(con, settings.spark_dir)
