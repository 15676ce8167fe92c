"""What every spool sink promises, whichever store holds the records.

The edge (collector, importer, TTL worker) appends encoded NDJSON records to a
`Sink` and acknowledges its own caller only after `append` returned, so a sink
must return only once the records would survive a crash of the process *and*
of the machine it runs on. The loader takes a `Delivery`: a batch the store
holds durably, handed over as NDJSON files so the loader's DuckDB → Arrow path
reads a broker exactly as it reads local segments, and acknowledged only after
dlt committed. A loader killed in between gets the batch again; the merge on
`event_id` keeps each event once.

A Kafka sink fits the same two shapes (see docs/deployment.md): an idempotent
producer with `acks=all` (and `min.insync.replicas` ≥ 2) whose `append`
returns after every send's future resolved; a consumer group with
auto-commit off whose `Delivery` writes the polled records to a temporary
NDJSON file and commits the offsets in `ack`, after the load.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Protocol


class SinkUnavailable(OSError):
    """The store refused or did not confirm: nothing of the batch may be
    acknowledged (the collector answers 503 with Retry-After).

    An OSError, as a full disk is, so callers treat every sink alike."""


class Sink(Protocol):
    def append(self, records: Sequence[bytes]) -> int:
        """Store newline-terminated records; return their count once they are durable.

        Raises SinkUnavailable (or another OSError) when they may not be: then
        none of them counts as stored, though some may reappear later (the
        producer retries with the same event ids, and the loader dedupes).
        """

    def flush(self, max_age_s: float = 0.0) -> None:
        """Hand what has waited at least `max_age_s` to the loader (the file
        sink seals its segment; a broker's messages are visible at once)."""

    def backlog_bytes(self) -> int:
        """Bytes stored and not yet loaded: what the collector's bound counts."""

    def close(self) -> None: ...


class Waiting(NamedTuple):
    """What waits for the loader, as the spool sensor asks: `batches` (sealed
    segments, or broker messages), a `key` that changes whenever more arrives
    (one run per distinct key), and `where` it waits, for the skip message."""

    batches: int
    key: str
    where: str


class Backlog(Protocol):
    """What waited for the loader when a load began. The loader takes batches until
    none of it waits any more, so a collector that keeps sealing segments cannot
    keep one load going, and the next load takes what arrived meanwhile."""

    def remains(self) -> bool:
        """Whether some of it still waits (asked after each committed batch)."""


class OneDelivery:
    """A broker's backlog: a load takes one delivery, already bounded by the fetch
    size; the rest waits for the next load, which the spool sensor requests."""

    def remains(self) -> bool:
        return False


class Delivery(Protocol):
    """One batch for the loader; use with `contextlib.closing`."""

    segments: list[Path]

    def ack(self) -> None:
        """Forget the batch: call only after the warehouse committed it."""

    def close(self) -> None:
        """Release the batch; without `ack` it comes back on a later fetch."""
