"""`journey import`: trusted NDJSON backfill into the spool.

Good lines go in; bad lines are reported by file and line and written to the
spool as quarantine records, so they reach `raw.quarantine` with their reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.contract import InvalidEvent
from ingestion.edge import Edge, utc_now_iso
from ingestion.settings import Settings
from ingestion.sinks import open_sink
from ingestion.spool import encode

CHUNK_LINES = 20_000


@dataclass
class ImportReport:
    accepted: int = 0
    quarantined: int = 0
    problems: list[tuple[str, int, str]] = field(default_factory=list)


def import_files(paths: Iterable[Path], settings: Settings,
                 progress: Callable[[str], None] | None = None) -> ImportReport:
    edge = Edge.from_settings(settings)
    report = ImportReport()
    with closing(open_sink(settings, max_age_s=float("inf"))) as sink:
        for path in paths:
            path = Path(path)
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
            chunk: list[bytes] = []
            received_at = utc_now_iso()
            with path.open("rb") as fh:
                for no, raw in enumerate(fh, start=1):
                    if not raw.strip():
                        continue
                    try:
                        chunk.append(encode(edge.accept(json.loads(raw), received_at)))
                        report.accepted += 1
                    except (ValueError, InvalidEvent) as exc:
                        reason = str(exc) if isinstance(exc, InvalidEvent) else f"invalid JSON: {exc}"
                        report.problems.append((str(path), no, reason))
                        report.quarantined += 1
                        chunk.append(encode(edge.quarantine(reason, str(path), no,
                                                            raw.decode("utf-8", "replace").rstrip("\n"),
                                                            received_at)))
                    if len(chunk) >= CHUNK_LINES:
                        sink.append(chunk)
                        chunk = []
                        if progress:
                            progress(f"{path.name}: {no:,} lines")
            sink.append(chunk)
    return report
