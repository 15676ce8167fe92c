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
from dlt.common.libs.pyarrow import py_arrow_to_table_schema_columns

from ingestion.contract import EVENT_TYPES
from ingestion.settings import Settings
from ingestion.spool import SpoolReader

log = logging.getLogger(__name__)

PIPELINE_NAME = "journey_spool"
RAW_DATASET = "raw"

# The envelope fields the warehouse keys on, parsed in one pass per record.
_RECORD_STRUCTURE = json.dumps({
    "event_id": "VARCHAR", "type": "VARCHAR", "occurred_at": "VARCHAR", "received_at": "VARCHAR",
    "sent_at": "VARCHAR", "conversation_id": "VARCHAR", "channel": "VARCHAR",
    "actor": "JSON", "identity": "JSON", "attributes": "JSON", "properties": "JSON", "_quarantine": "JSON",
})

# Why a record cannot enter raw.events; checked in this order, first hit wins.
_REASON_SQL = f"""
    case
        when quarantine is not null then json_extract_string(quarantine, '$.reason')
        when left(ltrim(record), 1) <> '{{' then 'record is not a JSON object'
        when event_id is null or length(event_id) not between 1 and 128
            then 'event_id: missing or not 1-128 characters'
        when type is null or type not in ({", ".join(f"'{t}'" for t in EVENT_TYPES)})
            then 'type: missing or unknown event type'
        when occurred_at is null then 'occurred_at: missing or not an RFC 3339 timestamp'
        when received_at is null then 'received_at: missing or not an RFC 3339 timestamp'
    end
"""

_KNOWN_KEYS = ", ".join(f"'{k}'" for k in json.loads(_RECORD_STRUCTURE))
_PARSE_SQL = f"""
    select
        spool_segment,
        spool_line,
        record,
        r._quarantine as quarantine,
        r.event_id,
        r.type,
        try_cast(r.occurred_at as timestamptz) as occurred_at,
        try_cast(r.received_at as timestamptz) as received_at,
        try_cast(r.sent_at as timestamptz) as sent_at,
        r.conversation_id,
        r.channel,
        r.actor::varchar as actor,
        r.identity::varchar as identity,
        r.attributes::varchar as attributes,
        r.properties::varchar as properties,
        -- The whole record is kept only when it carries fields the contract does not name.
        case when len(list_filter(json_keys(record), lambda k: k not in ({_KNOWN_KEYS}))) > 0
            then record end as extras
    from (select *, json_transform(record, '{_RECORD_STRUCTURE}') as r from lines)
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
])


@dataclass
class Batch:
    events: pa.Table
    quarantine: pa.Table
    lines: int


def _lines_sql(segments: Sequence[Path]) -> str:
    """DuckDB reads the segments as lines: a JSON record never holds a raw
    control byte, so \\x01 as the delimiter splits nothing."""
    files = "[" + ", ".join("'" + str(s).replace("'", "''") + "'" for s in segments) + "]"
    return f"""
        select parse_filename(filename) as spool_segment, null::bigint as spool_line, line as record
        from read_csv({files}, columns = {{'line': 'VARCHAR'}}, delim = chr(1), quote = '',
                      escape = '', header = false, auto_detect = false, filename = true)
    """


def _python_lines(segments: Sequence[Path]) -> pa.Table:
    """The slow path for a batch DuckDB refused: every line checked on its own,
    bad ones turned into quarantine records that carry their line number."""
    names, numbers, records = [], [], []
    for seg in segments:
        with open(seg, "rb") as fh:
            for no, raw in enumerate(fh, start=1):
                try:
                    text = raw.decode().rstrip("\n")
                    json.loads(text)
                    if "\x01" in text:
                        raise ValueError("control byte outside a JSON string")
                except ValueError as exc:
                    text = json.dumps({"_quarantine": {
                        "reason": f"corrupt spool record: {exc}",
                        "raw": raw[:4096].decode("utf-8", "replace"),
                    }})
                names.append(seg.name)
                numbers.append(no)
                records.append(text)
    return pa.table({"spool_segment": names, "spool_line": numbers, "record": records})


def _parse(con: duckdb.DuckDBPyConnection, segments: Sequence[Path]) -> None:
    """Create temp table `parsed`: one row per spool line with its fields and reject reason."""
    parse = f"create or replace temp table parsed as select *, {_REASON_SQL} as reason from ({_PARSE_SQL})"
    con.execute(f"create or replace temp view lines as {_lines_sql(segments)}")
    try:
        con.execute(parse)
        return
    except duckdb.Error as exc:
        log.warning("malformed spool data, checking line by line: %s", exc)
    con.register("lines_py", _python_lines(segments))
    con.execute("create or replace temp view lines as select * from lines_py")
    con.execute(parse)


def read_segments(segments: Sequence[Path], warehouse: Path | None = None) -> Batch:
    """Parse segments into Arrow: new unique events, and quarantined records with reasons."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        _parse(con, segments)
        seen = "select null::varchar as event_id where false"
        if warehouse is not None and warehouse.exists():
            con.execute(f"attach '{warehouse}' as wh (read_only)")
            has_table = con.sql(
                "select count(*) from duckdb_tables() where database_name = 'wh' "
                "and schema_name = $s and table_name = 'events'", params={"s": RAW_DATASET}).fetchall()[0][0]
            if has_table:
                seen = f"select event_id from wh.{RAW_DATASET}.events"
        # Duplicates are rare: rank only their rows instead of windowing the whole batch.
        events_sql = f"""
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
                   actor, identity, attributes, properties, extras, spool_segment
            from parsed
            where reason is null
              and (event_id not in (select event_id from dups) or rowid in (select rid from first_copies))
              and not exists (select 1 from ({seen}) as s where s.event_id = parsed.event_id)
        """
        events = con.sql(events_sql).to_arrow_table().cast(EVENTS_SCHEMA)
        quarantine = con.sql("""
            select md5(concat_ws(chr(31), coalesce(quarantine ->> 'source', spool_segment),
                       coalesce(quarantine ->> 'line', spool_line::varchar),
                       coalesce(quarantine ->> 'raw', record))) as quarantine_id,
                   spool_segment, spool_line, reason,
                   coalesce(quarantine ->> 'source', 'spool') as source,
                   try_cast(quarantine ->> 'line' as bigint) as source_line,
                   coalesce(quarantine ->> 'raw', record) as raw,
                   coalesce(try_cast(quarantine ->> 'received_at' as timestamptz), now()) as quarantined_at
            from parsed where reason is not null
        """).to_arrow_table()
        lines = con.sql("select count(*) from parsed").fetchall()[0][0]
        return Batch(events, quarantine, lines)
    finally:
        con.close()


@dlt.source(name="spool", max_table_nesting=0)
def spool_source(segments: Sequence[Path] = (), warehouse: Path | None = None):
    """The spool as a dlt source; the segment list is fixed per run by the caller."""
    cache: list[Batch] = []

    def batch() -> Batch:
        if not cache:
            cache.append(read_segments(segments, warehouse))
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


def finish(settings: Settings, segments: Sequence[Path]) -> None:
    """After dlt committed: a crash before this reloads the segments, which the
    merge on event_id makes harmless."""
    SpoolReader(settings.spool_dir).mark_loaded(segments)


def load_spool(settings: Settings | None = None) -> dict[str, int]:
    """Load every sealed segment once; outside Dagster (benchmarks, tests)."""
    settings = settings or Settings.from_env()
    pipeline = make_pipeline(settings)
    segments = prepare(pipeline, settings)
    if not segments:
        return {"segments": 0, "events": 0, "quarantined": 0}
    pipeline.run(spool_source(segments, settings.warehouse))
    finish(settings, segments)
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {"segments": len(segments), "events": counts.get("events", 0),
            "quarantined": counts.get("quarantine", 0)}
