"""Spark registers raw's Parquet folders with declared columns (dbt_project/macros/spark.sql:
an empty folder has no schema to infer); they must be what the loader writes."""

import re

import pyarrow as pa

from ingestion.importer import import_files
from ingestion.loader import EVENTS_SCHEMA, read_segments
from ingestion.spool import SpoolReader
from orchestration.defs.dbt.project import DBT_PROJECT_DIR
from tests.conftest import event, write_lines

SPARK_TYPES = {pa.string(): "string", pa.int64(): "bigint"}


def declared(table: str) -> list[tuple[str, str]]:
    """(name, type) pairs the registration macro declares for raw.`table`."""
    macro = (DBT_PROJECT_DIR / "macros" / "spark.sql").read_text()
    columns = re.search(rf"'{table}': '([^']*)'", macro).group(1)
    return [tuple(column.split()) for column in columns.split(",")]


def spark_type(arrow: pa.DataType) -> str:
    return "timestamp" if pa.types.is_timestamp(arrow) else SPARK_TYPES[arrow]


def test_spark_declares_the_events_columns_the_loader_writes():
    assert declared("events") == [(f.name, spark_type(f.type)) for f in EVENTS_SCHEMA]


def test_spark_declares_the_quarantine_columns_the_loader_writes(settings, tmp_path):
    write_lines(tmp_path / "a.ndjson", [event("e1", "message.received", "2026-11-02T09:00:00Z", message_id="m1"),
                                        "{not json"])
    import_files([tmp_path / "a.ndjson"], settings)
    segments = SpoolReader(settings.spool_dir).pending()
    quarantine = read_segments(segments).quarantine
    assert quarantine.num_rows == 1
    assert declared("quarantine") == [(f.name, spark_type(f.type)) for f in quarantine.schema]
