"""Group commit: one sink append (write + fsync, or publish + PubAck) covers
every request that arrived meanwhile.

Each request awaits the commit that contains its records, so a 2xx still means
"durable", but a burst of single-event requests shares one fsync (or one round
of broker acknowledgements) instead of paying one each. The sink runs on one
dedicated thread, so appends, seals and fsyncs never interleave.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from ingestion.sinks import Sink


class CommitHistogram:
    """Cumulative Prometheus histogram of group-commit (sink append) seconds."""

    BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

    def __init__(self) -> None:
        self.buckets = [0] * len(self.BOUNDS)
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.sum += seconds
        for i, bound in enumerate(self.BOUNDS):
            if seconds <= bound:
                self.buckets[i] += 1

    def samples(self) -> list[tuple[str, object]]:
        """(name suffix and labels, value) of each sample, for the Prometheus text format."""
        return [*((f'_bucket{{le="{b}"}}', n) for b, n in zip(self.BOUNDS, self.buckets)),
                ('_bucket{le="+Inf"}', self.count), ("_sum", f"{self.sum:.6f}"), ("_count", self.count)]


class SinkFull(Exception):
    """The backlog bound (`JOURNEY_SPOOL_MAX_BYTES`) would be exceeded, whichever sink holds the backlog."""


class GroupCommitter:
    def __init__(self, sink: Sink, max_bytes: int, seal_age_s: float):
        self.sink = sink
        self.max_bytes = max_bytes
        self.seal_age_s = seal_age_s
        self.spool_bytes = 0
        self.commits = CommitHistogram()
        self._pending: list[tuple[list[bytes], asyncio.Future]] = []
        self._pending_bytes = 0
        self._refused_at: int | None = None
        self._wake = asyncio.Event()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-writer")
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self.spool_bytes = self.sink.backlog_bytes()
        self._tasks = [asyncio.create_task(self._commit_loop()), asyncio.create_task(self._housekeeping())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.get_running_loop().run_in_executor(self._thread, self.sink.close)
        self._thread.shutdown(wait=True)

    async def commit(self, lines: list[bytes]) -> None:
        """Return once the encoded records `lines` are durable; raise SinkFull or OSError otherwise."""
        size = sum(map(len, lines))
        if self.spool_bytes + self._pending_bytes + size > self.max_bytes:
            self._refused_at = self.spool_bytes
            raise SinkFull()
        future = asyncio.get_running_loop().create_future()
        self._pending.append((lines, future))
        self._pending_bytes += size
        self._wake.set()
        await future

    @property
    def full(self) -> bool:
        """At the bound, or no emptier than when a batch was last refused for
        room: readiness fails until a load frees space, so a load balancer
        prefers other collectors rather than send batches this one refuses."""
        if self._refused_at is not None and self.spool_bytes < self._refused_at:
            self._refused_at = None
        return self.spool_bytes >= self.max_bytes or self._refused_at is not None

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending, size, self._pending_bytes = self._pending, [], self._pending_bytes, 0
            if not batch:
                continue
            records = [line for lines, _ in batch for line in lines]
            started = time.perf_counter()
            try:
                await loop.run_in_executor(self._thread, self.sink.append, records)
            except Exception as exc:  # noqa: BLE001 - every waiter must hear of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.commits.observe(time.perf_counter() - started)
            self.spool_bytes += size
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _housekeeping(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, self.seal_age_s))
            await loop.run_in_executor(self._thread, self.sink.flush, self.seal_age_s)
            self.spool_bytes = await loop.run_in_executor(None, self.sink.backlog_bytes)
