"""dlt loader: sealed spool segments (or a broker's batch, see `ingestion.sinks`) → schema `raw` of the warehouse (DuckDB, or
PostgreSQL with JOURNEY_DESTINATION=postgres), merged on `event_id`; or, with JOURNEY_DESTINATION=spark,
Parquet files that Spark reads as external tables (dlt's filesystem destination, append only).

The spool is parsed by DuckDB and handed to dlt as Arrow tables (the
dict-per-row path is ~100× slower). Each record gets a last integrity check
here, because a spool file is just bytes on a disk: a line that is not a JSON
object, or that lacks what the warehouse keys on, goes to `raw.quarantine`
with its reason instead of stopping the load. Full contract validation already
happened at the edge (`ingestion.edge`), where the producer can still be told.

Duplicates are dropped twice over: within the batch (first arrival wins) and
against `raw.events`; the `merge` disposition on `event_id` is the guarantee
behind both, so a killed and repeated load cannot count an event twice. Plain
Parquet has no merge (no Delta offline): on Spark the check against the
event_ids already in the Parquet files is the guarantee, exact because loads
run one at a time and a batch's files exist once dlt committed it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa
from dlt.common.libs.pyarrow import py_arrow_to_table_schema_columns
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.destinations.impl.postgres.configuration import PostgresCredentials

from ingestion.contract import EVENT_TYPES
from ingestion.settings import PostgresSettings, Settings
from ingestion.sinks import Delivery, backlog, fetch

log = logging.getLogger(__name__)

PIPELINE_NAME = "journey_spool"
RAW_DATASET = "raw"

# What a spool record may hold (written by `ingestion.edge`): the contract's
# envelope, `_extras` (fields the contract does not name, moved there by the
# edge) or `_quarantine` (a rejected input). DuckDB's own JSON reader parses
# exactly these, in parallel, straight from the files.
_SPOOL_COLUMNS = {
    "event_id": "VARCHAR", "type": "VARCHAR", "occurred_at": "VARCHAR", "received_at": "VARCHAR",
    "sent_at": "VARCHAR", "conversation_id": "VARCHAR", "channel": "VARCHAR", "actor": "JSON",
    "identity": "JSON", "attributes": "JSON", "properties": "JSON", "_extras": "JSON",
    "_quarantine": "JSON",
}

# Why a record cannot enter raw.events; checked in this order, first hit wins.
_REASON_SQL = f"""
    case
        when quarantine is not null then quarantine ->> 'reason'
        when event_id is null or length(event_id) not between 1 and 128
            then 'event_id: missing or not 1-128 characters'
        when type is null or type not in ({", ".join(f"'{t}'" for t in EVENT_TYPES)})
            then 'type: missing or unknown event type'
        when occurred_at is null then 'occurred_at: missing or not an RFC 3339 timestamp'
        when received_at is null then 'received_at: missing or not an RFC 3339 timestamp'
    end
"""


def _parse_sql(files: Sequence[Path]) -> str:
    listing = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in _SPOOL_COLUMNS.items()) + "}"
    return f"""
        select
            parse_filename(filename) as spool_segment,
            try_cast(_quarantine ->> 'spool_line' as bigint) as spool_line,
            _quarantine as quarantine,
            event_id,
            type,
            try_cast(occurred_at as timestamptz) as occurred_at,
            try_cast(received_at as timestamptz) as received_at,
            try_cast(sent_at as timestamptz) as sent_at,
            conversation_id,
            channel,
            actor::varchar as actor,
            identity::varchar as identity,
            attributes::varchar as attributes,
            properties::varchar as properties,
            _extras::varchar as extras
        from read_json({listing}, format = 'newline_delimited', columns = {columns},
                       filename = true)
    """


# raw.events as dlt creates it. Fixed here, not inferred per batch: DuckDB marks
# a column NOT NULL when a batch happens to hold no null, and a schema that
# changes with the data would make dlt rewrite every file or, worse, create a
# NOT NULL column a later batch violates.
EVENTS_SCHEMA = pa.schema([
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("type", pa.string(), nullable=False),
    pa.field("occurred_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("received_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("sent_at", pa.timestamp("us", tz="UTC")),
    pa.field("conversation_id", pa.string()),
    pa.field("channel", pa.string()),
    pa.field("actor", pa.string()),
    pa.field("identity", pa.string()),
    pa.field("attributes", pa.string()),
    pa.field("properties", pa.string()),
    pa.field("extras", pa.string()),
    pa.field("spool_segment", pa.string(), nullable=False),
    # When the row reached the warehouse: dbt's incremental models pick up
    # what was loaded since their last run (null on rows of older versions).
    pa.field("loaded_at", pa.timestamp("us", tz="UTC")),
])


@dataclass
class Batch:
    events: pa.Table
    quarantine: pa.Table


def _cleaned_copies(segments: Sequence[Path], work_dir: Path) -> list[Path]:
    """The slow path for a batch DuckDB refused: every line checked on its own.

    Each segment is copied under its own name with its bad lines replaced by
    quarantine records that say why and where, so the fast reader can run.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    copies = []
    for seg in segments:
        copy = work_dir / seg.name
        with open(seg, "rb") as src, open(copy, "wb") as dst:
            for no, raw in enumerate(src, start=1):
                try:
                    record = json.loads(raw)
                    if not isinstance(record, dict):
                        raise ValueError("record is not a JSON object")
                    dst.write(raw if raw.endswith(b"\n") else raw + b"\n")
                except ValueError as exc:  # also UnicodeDecodeError
                    dst.write(json.dumps({"_quarantine": {
                        "reason": f"corrupt spool record: {exc}", "spool_line": no,
                        "raw": raw[:4096].decode("utf-8", "replace"),
                    }}).encode() + b"\n")
        copies.append(copy)
    return copies


def _parse(con: duckdb.DuckDBPyConnection, segments: Sequence[Path]) -> None:
    """Create temp table `parsed`: one row per spool line with its fields and reject reason."""
    create = "create or replace temp table parsed as select *, {reason} as reason from ({select})"
    try:
        con.execute(create.format(reason=_REASON_SQL, select=_parse_sql(segments)))
        return
    except duckdb.Error as exc:
        log.warning("malformed spool data, checking line by line: %s", exc)
    with tempfile.TemporaryDirectory(prefix="journey-spool-") as tmp:
        copies = _cleaned_copies(segments, Path(tmp))
        con.execute(create.format(reason=_REASON_SQL, select=_parse_sql(copies)))


def _parquet_ids(folder: Path, column: str) -> str | None:
    """The ids in the Parquet files of one raw table (Spark's `raw`), or None before its first file."""
    if not any(folder.glob("*.parquet")):
        return None
    return f"select {column} from read_parquet('" + str(folder / "*.parquet").replace("'", "''") + "')"


def read_segments(segments: Sequence[Path], warehouse: Path | None = None, parquet_raw: Path | None = None) -> Batch:
    """Parse segments into Arrow: new unique events, and quarantined records with reasons.

    The ids already stored are skipped: those of the DuckDB `warehouse`, or of the Parquet
    files under `parquet_raw` (JOURNEY_DESTINATION=spark), events and quarantine alike."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute("set preserve_insertion_order = false")
        _parse(con, segments)
        seen_events, seen_quarantine = _stored_ids(con, warehouse, parquet_raw)
        events = con.sql(_new_events_sql(seen_events)).to_arrow_table().cast(EVENTS_SCHEMA)
        quarantine = con.sql(_new_quarantine_sql(seen_quarantine)).to_arrow_table()
        return Batch(events, quarantine)
    finally:
        con.close()


def _stored_ids(con: duckdb.DuckDBPyConnection, warehouse: Path | None,
                parquet_raw: Path | None) -> tuple[str, str]:
    """Queries of the event ids and quarantine ids already stored (empty when none are)."""
    seen = "select null::varchar as event_id where false"
    if warehouse is not None and warehouse.exists():
        con.execute("attach '" + str(warehouse).replace("'", "''") + "' as wh (read_only)")
        has_table = con.sql(
            "select count(*) from duckdb_tables() where database_name = 'wh' "
            "and schema_name = $s and table_name = 'events'", params={"s": RAW_DATASET}).fetchall()[0][0]
        if has_table:
            seen = f"select event_id from wh.{RAW_DATASET}.events"
    if parquet_raw is not None:
        seen = _parquet_ids(parquet_raw / "events", "event_id") or seen
    seen_quarantine = (parquet_raw and _parquet_ids(parquet_raw / "quarantine", "quarantine_id")) or (
        "select null::varchar as quarantine_id where false")
    return seen, seen_quarantine


def _new_events_sql(seen: str) -> str:
    """The valid parsed records not stored yet, one per event_id: the first arrival
    (earliest receipt, then segment and line order). Duplicates are rare, so only
    their rows are ranked instead of windowing the whole batch."""
    return f"""
        with dups as (
            select event_id from parsed where reason is null group by event_id having count(*) > 1
        ),
        first_copies as (
            select parsed.rowid as rid
            from parsed semi join dups using (event_id)
            where parsed.reason is null
            qualify row_number() over (
                partition by parsed.event_id
                order by parsed.received_at, parsed.spool_segment, parsed.rowid) = 1
        )
        select event_id, type, occurred_at, received_at, sent_at, conversation_id, channel,
               actor, identity, attributes, properties, extras, spool_segment,
               now() as loaded_at
        from parsed
        where reason is null
          and (event_id not in (select event_id from dups) or rowid in (select rid from first_copies))
          and not exists (select 1 from ({seen}) as s where s.event_id = parsed.event_id)
    """


def _new_quarantine_sql(seen: str) -> str:
    """The rejected records not stored yet, keyed by origin, line and content (a
    re-import of the same file adds nothing)."""
    return f"""
        with rejected as (
            select
                md5(concat_ws(chr(31), source, coalesce(source_line, spool_line), raw)) as quarantine_id,
                *
            from (
                select
                    spool_segment,
                    spool_line,
                    reason,
                    coalesce(quarantine ->> 'source', 'spool') as source,
                    try_cast(quarantine ->> 'line' as bigint) as source_line,
                    coalesce(
                        quarantine ->> 'raw',
                        to_json(struct_pack(spool_segment, event_id, type, occurred_at, received_at,
                                            conversation_id, properties))::varchar
                    ) as raw,
                    coalesce(try_cast(quarantine ->> 'received_at' as timestamptz), now()) as quarantined_at
                from parsed
                where reason is not null
            )
        )
        select * from rejected where quarantine_id not in ({seen})
    """


@dlt.source(name="spool", max_table_nesting=0)
def spool_source(segments: Sequence[Path] = (), warehouse: Path | None = None, parquet_raw: Path | None = None):
    """The spool as a dlt source; the segment list is fixed per run by the caller.
    With `parquet_raw` (Spark's raw folder) both tables are appended: the ids already
    there were skipped by `read_segments`."""
    cache: list[Batch] = []

    def batch() -> Batch:
        if not cache:
            cache.append(read_segments(segments, warehouse, parquet_raw))
        return cache[0]

    # insert-only: a row whose event_id is already in raw.events is never
    # replaced, so the first arrival wins across loads as it does within one.
    @dlt.resource(name="events", primary_key="event_id",
                  write_disposition={"disposition": "merge", "strategy": "insert-only"},
                  columns=py_arrow_to_table_schema_columns(EVENTS_SCHEMA))
    def events() -> Iterator[pa.Table]:
        table = batch().events
        if table.num_rows:
            yield table

    @dlt.resource(name="quarantine", primary_key="quarantine_id",
                  write_disposition={"disposition": "merge", "strategy": "delete-insert"})
    def quarantine() -> Iterator[pa.Table]:
        table = batch().quarantine
        if table.num_rows:
            yield table

    if parquet_raw is not None:
        for resource in (events, quarantine):
            resource.apply_hints(write_disposition="append")
    return events, quarantine


def postgres_credentials(postgres: PostgresSettings) -> PostgresCredentials:
    """dlt's credentials for the settings' PostgreSQL (JOURNEY_PG_*, which dbt's `postgres` target reads too)."""
    credentials = PostgresCredentials()
    credentials.host = postgres.host
    credentials.port = postgres.port
    credentials.username = postgres.user
    credentials.password = postgres.password
    credentials.database = postgres.dbname
    return credentials


def make_pipeline(settings: Settings) -> dlt.Pipeline:
    # dlt's intermediate Parquet files live for one load; compressing them costs
    # more time than the disk it saves. An operator's own setting wins.
    os.environ.setdefault("DATA_WRITER__COMPRESSION", "none")
    if settings.destination == "postgres":
        destination = dlt.destinations.postgres(postgres_credentials(settings.postgres))
    elif settings.destination == "spark":
        # Parquet under $JOURNEY_HOME/spark/raw/<table>/, microsecond timestamps (Spark reads no
        # nanoseconds); dbt registers the folders as external tables (macros/spark.sql).
        os.environ.setdefault("DATA_WRITER__COERCE_TIMESTAMPS", "us")
        destination = dlt.destinations.filesystem(settings.spark_dir.as_uri())
    else:
        # Row order inside raw.events carries no meaning; letting DuckDB drop
        # it parallelises the inserts of the merge.
        destination = dlt.destinations.duckdb(DuckDbCredentials(
            str(settings.warehouse), global_config={"preserve_insertion_order": False}))
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=destination,
        dataset_name=RAW_DATASET,
        pipelines_dir=str(settings.home / ".dlt"),
    )


def raw_parquet(settings: Settings) -> Path | None:
    """Spark's raw folder (one folder of Parquet files per table), or None on other destinations."""
    return settings.spark_dir / RAW_DATASET if settings.destination == "spark" else None


def known_events_warehouse(settings: Settings) -> Path | None:
    """The DuckDB file whose event_ids a batch skips before dlt sees them.

    Only a speed-up: on PostgreSQL the insert-only merge on event_id alone
    keeps the first arrival, without pulling the warehouse's ids back here.
    """
    return settings.warehouse if settings.destination == "duckdb" else None


def prepare(pipeline: dlt.Pipeline, settings: Settings) -> Delivery:
    """Recover after a crash and take the next batch from the sink (close it when done).

    Packages a killed run left behind are dropped rather than finished: their
    batch was never acknowledged, so the sink hands it over again, and the
    merge on event_id makes the repeat harmless.
    """
    if pipeline.has_pending_data:
        log.warning("dropping pending dlt packages of an interrupted load; their segments reload")
        pipeline.drop_pending_packages()
    return fetch(settings)


def ensure_raw_tables(settings: Settings) -> bool:
    """Create what a dbt build reads from `raw` when no load has written it yet, so a first
    run with an empty spool builds empty marts instead of failing on a missing source:
    an empty `raw.events` in the warehouse, or on Spark the Parquet folders of both raw
    tables, which every dbt run registers (dbt_project/macros/spark.sql; Spark would log a
    stack trace for a folder that does not exist). Returns whether it had to."""
    if settings.destination == "postgres":  # dlt creates its tables there; nothing local to make
        return False
    parquet = raw_parquet(settings)
    if parquet is not None:
        missing = [folder for folder in (parquet / "events", parquet / "quarantine") if not folder.exists()]
        for folder in missing:
            folder.mkdir(parents=True)
        return bool(missing)
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as con:
        exists = con.sql("select count(*) from duckdb_tables() where schema_name = $s and table_name = 'events'",
                         params={"s": RAW_DATASET}).fetchall()[0][0]
        if not exists:
            empty = EVENTS_SCHEMA.empty_table()  # noqa: F841 (read by name in the SQL below)
            con.execute(f"create schema if not exists {RAW_DATASET}")
            con.execute(f"create table {RAW_DATASET}.events as select * from empty")
    return not exists


def finish(delivery: Delivery) -> None:
    """After dlt committed: a crash before this reloads the batch, which the
    merge on event_id makes harmless."""
    delivery.ack()


def load_spool(settings: Settings | None = None) -> dict[str, int]:
    """`load_waiting` outside Dagster (benchmarks, tests)."""
    settings = settings or Settings.from_env()
    totals = load_waiting(make_pipeline(settings), settings)
    return {k: totals[k] for k in ("segments", "events", "quarantined")}


def load_waiting(pipeline: dlt.Pipeline, settings: Settings,
                 progress: Callable[[str], None] = log.info) -> dict[str, int]:
    """Load what waits in the sink in batches of at most `load_batch_bytes`, each
    committed and acknowledged before the next is parsed, so memory stays
    bounded whatever the backlog and a crash repeats at most one batch.

    It stops once what waited when it started is loaded, as the sink's `backlog`
    tells: the file spool's segments sealed by then (a busy collector keeps
    sealing new ones; the next run takes those), or a broker's one delivery,
    already bounded by its batch size.
    """
    started_with = backlog(settings)
    totals = {"batches": 0, "segments": 0, "events": 0, "quarantined": 0}
    while not totals["batches"] or started_with.remains():
        with closing(prepare(pipeline, settings)) as delivery:
            segments = delivery.segments
            if not segments:
                break
            pipeline.run(spool_source(segments, known_events_warehouse(settings), raw_parquet(settings)),
                         loader_file_format="parquet" if settings.destination == "spark" else None)
            finish(delivery)
        counts = pipeline.last_trace.last_normalize_info.row_counts
        batch = {"batches": 1, "segments": len(segments), "events": counts.get("events", 0),
                 "quarantined": counts.get("quarantine", 0)}
        totals = {k: totals[k] + batch[k] for k in totals}
        progress(f"spool: batch {totals['batches']} loaded: {batch['segments']} segment(s), "
                 f"{batch['events']:,} new events, {batch['quarantined']:,} quarantined")
    # A load leaves every raw table dbt reads in place, written or not: after the first
    # load with events a DuckDB warehouse has them, so it is looked at only when none came.
    if (not totals["events"] or settings.destination == "spark") and ensure_raw_tables(settings):
        progress(f"created the {RAW_DATASET} tables no load had written yet (empty)")
    return totals
