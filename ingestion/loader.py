"""dlt loader: sealed spool segments → DuckDB schema `raw`, merged on `event_id`.

The spool is parsed by DuckDB and handed to dlt as Arrow tables (the
dict-per-row path is ~100× slower). Each record gets a last integrity check
here, because a spool file is just bytes on a disk: a line that is not a JSON
object, or that lacks what the warehouse keys on, goes to `raw.quarantine`
with its reason instead of stopping the load. Full contract validation already
happened at the edge (`ingestion.edge`), where the producer can still be told.

Duplicates are dropped twice over: within the batch (first arrival wins) and
against `raw.events`; the `merge` disposition on `event_id` is the guarantee
behind both, so a killed and repeated load cannot count an event twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa

from ingestion.contract import EVENT_TYPES
from ingestion.settings import Settings
from ingestion.spool import SpoolReader

log = logging.getLogger(__name__)

PIPELINE_NAME = "journey_spool"
RAW_DATASET = "raw"

# Why a record cannot enter raw.events; checked in this order, first hit wins.
_REASON_SQL = f"""
    case
        when quarantine is not null then quarantine ->> 'reason'
        when json_type(record) <> 'OBJECT' then 'record is not a JSON object'
        when event_id is null or length(event_id) not between 1 and 128
            then 'event_id: missing or not 1-128 characters'
        when type is null or type not in ({", ".join(f"'{t}'" for t in EVENT_TYPES)})
            then 'type: missing or unknown event type'
        when occurred_at is null then 'occurred_at: missing or not an RFC 3339 timestamp'
        when received_at is null then 'received_at: missing or not an RFC 3339 timestamp'
    end
"""

_EXTRACT_SQL = """
    select
        filename as spool_segment,
        line_no as spool_line,
        record,
        try(record -> '_quarantine') as quarantine,
        try(record ->> 'event_id') as event_id,
        try(record ->> 'type') as type,
        try_cast(try(record ->> 'occurred_at') as timestamptz) as occurred_at,
        try_cast(try(record ->> 'received_at') as timestamptz) as received_at,
        try_cast(try(record ->> 'sent_at') as timestamptz) as sent_at,
        try(record ->> 'conversation_id') as conversation_id,
        try(record ->> 'channel') as channel,
        try(record -> 'actor' ->> 'kind') as actor_kind,
        try(record -> 'actor' ->> 'id') as actor_id,
        try(record ->> 'identity') as identity,
        try(record ->> 'attributes') as attributes,
        try(record ->> 'properties') as properties
    from lines
"""


@dataclass
class Batch:
    events: pa.Table
    quarantine: pa.Table
    lines: int


def _lines_relation(con: duckdb.DuckDBPyConnection, segments: Sequence[Path]) -> None:
    """Register `lines(filename, line_no, record)`; DuckDB's reader on the fast path."""
    files = [str(s) for s in segments]
    try:
        con.execute(
            """
            create or replace temp table lines as
            select parse_filename(filename) as filename,
                   row_number() over (partition by filename) as line_no,
                   json as record
            from read_ndjson_objects($files, filename = true)
            """,
            {"files": files},
        )
        return
    except duckdb.InvalidInputException as exc:
        log.warning("malformed spool data, checking line by line: %s", exc)
    names, numbers, records, bad = [], [], [], []
    for seg in segments:
        with open(seg, "rb") as fh:
            for no, raw in enumerate(fh, start=1):
                try:
                    json.loads(raw)
                    text = raw.decode().rstrip("\n")
                except (ValueError, UnicodeDecodeError) as exc:
                    text = json.dumps({"_quarantine": {
                        "reason": f"corrupt spool record: {exc}",
                        "raw": raw[:4096].decode("utf-8", "replace"),
                    }})
                names.append(seg.name)
                numbers.append(no)
                records.append(text)
    con.register("lines_py", pa.table({"filename": names, "line_no": numbers, "record": records}))
    con.execute("create or replace temp table lines as "
                "select filename, line_no::bigint as line_no, record::json as record from lines_py")


def read_segments(segments: Sequence[Path], warehouse: Path | None = None) -> Batch:
    """Parse segments into Arrow: new unique events, and quarantined records with reasons."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        _lines_relation(con, segments)
        con.execute(f"create temp table parsed as select *, {_REASON_SQL} as reason from ({_EXTRACT_SQL})")
        seen = "select null::varchar as event_id where false"
        if warehouse is not None and warehouse.exists():
            con.execute(f"attach '{warehouse}' as wh (read_only)")
            has_table = con.sql(
                "select count(*) from duckdb_tables() where database_name = 'wh' "
                "and schema_name = $s and table_name = 'events'", params={"s": RAW_DATASET}).fetchall()[0][0]
            if has_table:
                seen = f"select event_id from wh.{RAW_DATASET}.events"
        events = con.sql(f"""
            select event_id, type, occurred_at, received_at, sent_at, conversation_id, channel,
                   actor_kind, actor_id, identity, attributes, properties,
                   record::varchar as event, spool_segment, spool_line
            from parsed
            where reason is null
              and not exists (select 1 from ({seen}) as s where s.event_id = parsed.event_id)
            qualify row_number() over (
                partition by event_id order by received_at, spool_segment, spool_line) = 1
        """).to_arrow_table()
        quarantine = con.sql("""
            select md5(concat_ws(chr(31), coalesce(quarantine ->> 'source', spool_segment),
                       coalesce(quarantine ->> 'line', spool_line::varchar),
                       coalesce(quarantine ->> 'raw', record::varchar))) as quarantine_id,
                   spool_segment, spool_line, reason,
                   coalesce(quarantine ->> 'source', 'spool') as source,
                   try_cast(quarantine ->> 'line' as bigint) as source_line,
                   coalesce(quarantine ->> 'raw', record::varchar) as raw,
                   coalesce(try_cast(quarantine ->> 'received_at' as timestamptz), now()) as quarantined_at
            from parsed where reason is not null
        """).to_arrow_table()
        lines = con.sql("select count(*) from lines").fetchall()[0][0]
        return Batch(events=events, quarantine=quarantine, lines=lines)
    finally:
        con.close()


@dlt.source(name="spool", max_table_nesting=0)
def spool_source(segments: Sequence[Path] = (), warehouse: Path | None = None):
    """The spool as a dlt source; the segment list is fixed per run by the caller."""
    batch_cache: dict[str, Batch] = {}

    def batch() -> Batch:
        if "b" not in batch_cache:
            batch_cache["b"] = read_segments(segments, warehouse)
        return batch_cache["b"]

    @dlt.resource(name="events", primary_key="event_id",
                  write_disposition={"disposition": "merge", "strategy": "delete-insert"},
                  columns={"identity": {"data_type": "text"}, "attributes": {"data_type": "text"},
                           "properties": {"data_type": "text"}, "event": {"data_type": "text"}})
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

    return events, quarantine


def make_pipeline(settings: Settings) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=dlt.destinations.duckdb(str(settings.warehouse)),
        dataset_name=RAW_DATASET,
        pipelines_dir=str(settings.home / ".dlt"),
    )


def prepare(pipeline: dlt.Pipeline, settings: Settings) -> list[Path]:
    """Recover after a crash and list what to load.

    Packages a killed run left behind are dropped rather than finished: their
    segments were never marked loaded, so they are read again, and the merge
    on event_id makes the repeat harmless.
    """
    if pipeline.has_pending_data:
        log.warning("dropping pending dlt packages of an interrupted load; their segments reload")
        pipeline.drop_pending_packages()
    reader = SpoolReader(settings.spool_dir)
    reader.recover_orphans()
    return reader.pending()


def load_spool(settings: Settings | None = None) -> dict[str, int]:
    """Load every sealed segment once; outside Dagster (benchmarks, tests)."""
    settings = settings or Settings.from_env()
    pipeline = make_pipeline(settings)
    segments = prepare(pipeline, settings)
    if not segments:
        return {"segments": 0, "events": 0, "quarantined": 0}
    source = spool_source(segments, settings.warehouse)
    pipeline.run(source)
    SpoolReader(settings.spool_dir).mark_loaded(segments)
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {"segments": len(segments), "events": counts.get("events", 0),
            "quarantined": counts.get("quarantine", 0)}
