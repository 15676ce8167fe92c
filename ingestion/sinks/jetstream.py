"""NATS JetStream as the spool: collectors publish, loaders pull.

Durability rests on three settings, each for a reason:

- The stream stores to files and the *server* runs with
  `jetstream { sync_interval: always }`: by default JetStream fsyncs every two
  minutes, so a PubAck means "in the page cache", and a power cut has lost
  acknowledged messages (a published analysis of JetStream). With `always`
  the PubAck follows the fsync, the same promise as the file spool's. A client
  cannot see the server's setting: docs/deployment.md has the server config.
- Every record is published with `Nats-Msg-Id` = its event id, so a producer's
  retry inside the stream's duplicate window is stored once. That only saves
  space: the loader's merge on `event_id` is what guarantees "once".
- The stream has work-queue retention and `discard: new`: a message lives
  until a loader acknowledged it, and a full stream refuses publishes (the
  collector answers 503) instead of dropping the oldest unloaded events.

The loader's durable pull consumer acknowledges explicitly, per message, after
dlt committed (ack-all would also acknowledge what another loader fetched and
has not committed). A killed loader's batch comes back after `ack_wait`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

import nats
import nats.errors
import orjson
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from ingestion.settings import SinkConfig
from ingestion.sinks.base import SinkUnavailable, Waiting

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_S = 120.0
# A fetch returns at once with what is waiting; this only bounds an empty one.
FETCH_WAIT_S = 1.0


def _msg_id(record: bytes) -> dict[str, str] | None:
    """The record's event id as `Nats-Msg-Id` (hashed when a header cannot carry it);
    quarantine records have none and are not deduplicated by the broker."""
    event_id = orjson.loads(record).get("event_id")
    if not isinstance(event_id, str) or not event_id:
        return None
    if not (event_id.isascii() and event_id.isprintable()):
        event_id = "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()
    return {"Nats-Msg-Id": event_id}


class _JetStream:
    """A connection on a private event loop thread.

    nats-py is asyncio-only, and the sink's callers are synchronous (the group
    commit's writer thread, the importer, the loader); one loop per connection
    keeps them from sharing, or blocking, an event loop they do not own.
    """

    def __init__(self, config: SinkConfig):
        self.config = config
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats-sink", daemon=True)
        self._thread.start()
        self.nc: nats.NATS | None = None
        try:
            self.nc = self.run(asyncio.wait_for(self._connect(), config.nats_timeout_s))
            self.js = self.nc.jetstream(timeout=config.nats_timeout_s)
            self.run(self._ensure_stream())
        except Exception as exc:
            self.close()
            raise SinkUnavailable(f"cannot use NATS JetStream at {config.nats_url}: {exc!r}") from exc

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _connect(self) -> nats.NATS:
        async def quiet(exc: Exception) -> None:  # one line per error, not nats-py's traceback
            log.warning("NATS %s: %r", self.config.nats_url, exc)

        # Reconnect forever: a broker restart must not need a collector restart.
        return await nats.connect(self.config.nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                  connect_timeout=self.config.nats_timeout_s, error_cb=quiet)

    async def _ensure_stream(self) -> None:
        """Create the stream when missing; an existing one is the operator's and stays as it is."""
        try:
            await self.js.stream_info(self.config.nats_stream)
        except NotFoundError:
            await self.js.add_stream(StreamConfig(
                name=self.config.nats_stream, subjects=[self.config.nats_subject],
                storage=StorageType.FILE, retention=RetentionPolicy.WORK_QUEUE, discard=DiscardPolicy.NEW,
                max_bytes=self.config.nats_max_bytes, num_replicas=self.config.nats_replicas,
                duplicate_window=DUPLICATE_WINDOW_S))

    def close(self) -> None:
        try:
            if self.nc is not None:
                self.run(self.nc.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()


class NatsSink:
    """`append` returns after JetStream's PubAck for every record of the batch."""

    def __init__(self, config: SinkConfig):
        self.config = config
        self.conn = _JetStream(config)
        self._backlog = 0

    def append(self, records: Sequence[bytes]) -> int:
        if not records:
            return 0
        try:
            return self.conn.run(self._publish(records))
        except SinkUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever failed, nothing may be acknowledged
            raise SinkUnavailable(f"JetStream did not confirm the batch: {exc!r}") from exc

    async def _publish(self, records: Sequence[bytes]) -> int:
        """All records in flight at once, so a batch costs one round trip, not one per record."""
        config = self.config
        acks = await asyncio.gather(*(
            self.conn.js.publish(config.nats_subject, record, timeout=config.nats_timeout_s,
                                 stream=config.nats_stream, headers=_msg_id(record))
            for record in records), return_exceptions=True)
        failed = [a for a in acks if isinstance(a, BaseException)]
        if failed:
            raise SinkUnavailable(f"JetStream confirmed {len(records) - len(failed)} of {len(records)} "
                                  f"records: {failed[0]!r}")
        return len(records)

    def flush(self, max_age_s: float = 0.0) -> None:
        """Nothing to do: a loader can fetch a message as soon as it is acknowledged."""

    def backlog_bytes(self) -> int:
        """The stream's bytes: with work-queue retention, what no loader has acknowledged."""
        try:
            self._backlog = self.conn.run(self.conn.js.stream_info(self.config.nats_stream)).state.bytes
        except Exception as exc:  # noqa: BLE001 - a gauge keeps its last value while the broker is away
            log.warning("JetStream stream info unavailable: %r", exc)
        return self._backlog

    def close(self) -> None:
        self.conn.close()


def nats_waiting(config: SinkConfig) -> Waiting:
    """Messages no loader has acknowledged (work-queue retention deletes the
    acknowledged ones); the key is the stream's last sequence, which grows
    with every publish, so new messages ask for a new run."""
    conn = _JetStream(config)
    try:
        state = conn.run(conn.js.stream_info(config.nats_stream)).state
    finally:
        conn.close()
    return Waiting(state.messages, f"nats-{config.nats_stream}-{state.last_seq}",
                   f"JetStream stream {config.nats_stream} at {config.nats_url}")


class NatsDelivery:
    """One fetch of the durable pull consumer, written to a temporary NDJSON segment.

    The segment is named after the stream sequences it holds, which is what
    `raw.events.spool_segment` then records. Closing without `ack` naks the
    batch, so a failed load is retried at once rather than after `ack_wait`.
    """

    def __init__(self, config: SinkConfig):
        self.config = config
        self.conn = _JetStream(config)
        self._dir: Path | None = None
        self._messages: list = []
        self._acked = False
        self.segments: list[Path] = []
        try:
            self._messages = self.conn.run(self._fetch())
            if self._messages:
                self.segments = [self._write()]
        except BaseException:
            self.close()
            raise

    async def _fetch(self) -> list:
        config = self.config
        sub = await self.conn.js.pull_subscribe(
            config.nats_subject, durable=config.nats_consumer, stream=config.nats_stream,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=config.nats_ack_wait_s,
                                  max_ack_pending=4 * config.nats_fetch_batch))
        try:
            return await sub.fetch(config.nats_fetch_batch, timeout=FETCH_WAIT_S)
        except (asyncio.TimeoutError, nats.errors.TimeoutError):
            return []

    def _write(self) -> Path:
        sequences = [m.metadata.sequence.stream for m in self._messages]
        self._dir = Path(tempfile.mkdtemp(prefix="journey-nats-"))
        path = self._dir / f"nats-{self.config.nats_stream}-{min(sequences):012d}-{max(sequences):012d}.ndjson"
        with open(path, "wb") as fh:  # no fsync: the broker holds the durable copy
            for message in self._messages:
                fh.write(message.data if message.data.endswith(b"\n") else message.data + b"\n")
        return path

    def ack(self) -> None:
        self.conn.run(self._settle("ack"))
        self._acked = True

    async def _settle(self, verb: str) -> None:
        for message in self._messages:
            await getattr(message, verb)()
        await self.conn.nc.flush()  # the server has them once its PONG is back

    def close(self) -> None:
        try:
            if self._messages and not self._acked:
                self.conn.run(self._settle("nak"))
        except Exception as exc:  # noqa: BLE001 - unsettled messages come back after ack_wait anyway
            log.warning("could not nak a failed batch, it returns after %ss: %r", self.config.nats_ack_wait_s, exc)
        finally:
            self.conn.close()
            if self._dir:
                shutil.rmtree(self._dir, ignore_errors=True)
