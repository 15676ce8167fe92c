"""The default sink: the local spool of `ingestion.spool`, one machine."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from ingestion.sinks.base import Waiting
from ingestion.spool import ACTIVE, READY, SpoolReader, SpoolWriter


class FileSink:
    """A SpoolWriter: fsync before `append` returns, segments sealed by size or age."""

    def __init__(self, spool_dir: Path, max_bytes: int, max_age_s: float):
        self.writer = SpoolWriter(spool_dir, max_bytes, max_age_s)

    def append(self, records: Sequence[bytes]) -> int:
        # One joined buffer, and the count is the number of records (one line
        # each): the writer neither checks every record nor counts newlines.
        self.writer.append_lines(b"".join(records))
        return len(records)

    def flush(self, max_age_s: float = 0.0) -> None:
        self.writer.seal_if_older(max_age_s)

    def backlog_bytes(self) -> int:
        """Open and sealed segments; loaded ones are kept for replay and do not count."""
        total = 0
        for sub in (ACTIVE, READY):
            with os.scandir(self.writer.dirs[sub]) as entries:
                total += sum(e.stat().st_size for e in entries if e.is_file())
        return total

    def close(self) -> None:
        self.writer.seal()


def pending_segments(spool_dir: Path) -> list[Path]:
    """Sealed segments not loaded yet (none before the spool exists), after sealing
    the open segments of writers that died: what they acknowledged waits as much
    as a sealed segment does, so a load's backlog and the sensor count it too."""
    if not spool_dir.exists():
        return []
    reader = SpoolReader(spool_dir)
    reader.recover_orphans()
    return reader.pending()


def file_waiting(spool_dir: Path) -> Waiting:
    """Sealed segments not loaded yet; the key is their names, so a tick while
    their run is queued or loading asks for nothing new."""
    segments = pending_segments(spool_dir)
    names = "\n".join(s.name for s in segments)
    return Waiting(len(segments), hashlib.sha256(names.encode()).hexdigest()[:16], str(spool_dir / READY))


class FileBacklog:
    """The sealed segments waiting when the load began: batches follow until each is loaded."""

    def __init__(self, spool_dir: Path):
        self.spool_dir = spool_dir
        self.segments = set(pending_segments(spool_dir))

    def remains(self) -> bool:
        return not self.segments.isdisjoint(pending_segments(self.spool_dir))


class FileDelivery:
    """The oldest sealed segments up to `max_bytes` (at least one), after sealing
    those whose writer died; `ack` moves them to loaded/."""

    def __init__(self, spool_dir: Path, max_bytes: int):
        self.reader = SpoolReader(spool_dir)
        self.segments: list[Path] = []
        taken = 0
        for segment in pending_segments(spool_dir):
            taken += segment.stat().st_size
            if self.segments and taken > max_bytes:
                break
            self.segments.append(segment)

    def ack(self) -> None:
        self.reader.mark_loaded(self.segments)

    def close(self) -> None:
        """Nothing to release: unacknowledged segments simply stay in ready/."""
