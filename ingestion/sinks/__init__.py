"""The spool's two ends behind one interface (`base.Sink`, `base.Delivery`,
`base.Backlog`), chosen by `JOURNEY_SINK` (`settings.sink`): `file` (the local
spool, default) or `nats` (NATS JetStream). Collector, importer, TTL worker,
loader, spool sensor and `journey run` reach the spool only through these.
"""

from __future__ import annotations

from ingestion.settings import Settings, SinkConfig
from ingestion.sinks.base import Backlog, Delivery, OneDelivery, Sink, SinkUnavailable, Waiting
from ingestion.sinks.file import FileBacklog, FileDelivery, FileSink, file_waiting
from ingestion.sinks.jetstream import NatsDelivery, NatsSink, nats_waiting

__all__ = ["Backlog", "Delivery", "Sink", "SinkConfig", "SinkUnavailable", "Waiting", "backlog", "fetch",
           "open_sink", "waiting"]


def open_sink(settings: Settings, max_age_s: float | None = None, config: SinkConfig | None = None) -> Sink:
    """The configured sink (`config` overrides `settings.sink`). `max_age_s` (default:
    the segment age setting) is how long the file sink keeps a segment open; batch
    writers pass infinity and seal on close."""
    config = config or settings.sink
    if config.kind == "nats":
        return NatsSink(config)
    return FileSink(settings.spool_dir, settings.segment_max_bytes,
                    settings.segment_max_age_s if max_age_s is None else max_age_s)


def fetch(settings: Settings, config: SinkConfig | None = None) -> Delivery:
    """The next batch for the loader, at most `settings.load_batch_bytes` of the
    file spool (its `segments` are empty when nothing waits)."""
    config = config or settings.sink
    if config.kind == "nats":
        return NatsDelivery(config)
    return FileDelivery(settings.spool_dir, settings.load_batch_bytes)


def backlog(settings: Settings, config: SinkConfig | None = None) -> Backlog:
    """What waits as a load begins; the loader fetches until none of it remains."""
    config = config or settings.sink
    if config.kind == "nats":
        return OneDelivery()
    return FileBacklog(settings.spool_dir)


def waiting(settings: Settings, config: SinkConfig | None = None) -> Waiting:
    """What waits for the loader, for the spool sensor and `journey run` (raises
    SinkUnavailable when the broker cannot be asked)."""
    config = config or settings.sink
    if config.kind == "nats":
        return nats_waiting(config)
    return file_waiting(settings.spool_dir)
