"""Runtime configuration, read from the environment (docs/contract.md §8.2).

Every component (importer, loader, dbt, Dagster) takes its paths from here so
that they all touch the same absolute DuckDB file and spool.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse: Path
    ttl_hours: float
    store_message_text: bool
    segment_max_bytes: int
    segment_max_age_s: float
    # Dated stakeholder report folders (JOURNEY_REPORTS_DIR, default $JOURNEY_HOME/reports).
    reports_dir: Path
    # The serving snapshot readers use (JOURNEY_SERVING_DB, default
    # $JOURNEY_HOME/serving/journey.duckdb); the warehouse above is the pipeline's own.
    serving_db: Path
    # docs/contract.md §4.7: the TTL worker expires sessions idle as of the latest event
    # loaded ("watermark", reproducible) or as of the wall clock ("wall").
    ttl_clock: str = "watermark"
    # Where the loader writes `raw` (JOURNEY_DESTINATION): the DuckDB file, or
    # PostgreSQL at JOURNEY_PG_* (the scale path of docs/contract.md §1; dbt then runs --target postgres).
    destination: str = "duckdb"
    # How far an event's occurred_at may be ahead of received_at before the edge
    # refuses it (JOURNEY_MAX_FUTURE_S): a future event would become the watermark.
    max_future_s: float = 3600.0
    # NDJSON bytes of sealed segments one load takes (JOURNEY_LOAD_BATCH_BYTES):
    # the loader parses a batch in memory (about twice its size), so a large
    # backlog loads in several committed batches instead of exhausting memory.
    load_batch_bytes: int = 256 * 1024 * 1024
    # DuckDB's memory bound for the dbt build and the publication (JOURNEY_DUCKDB_MEMORY_LIMIT):
    # past it DuckDB spills to a temp folder beside the file instead of growing with the warehouse.
    duckdb_memory_limit: str = "2GB"
    # JOURNEY_HASH_KEY, if the operator manages the pseudonymisation key; never printed.
    hash_key: str | None = field(default=None, repr=False)

    @property
    def spool_dir(self) -> Path:
        return self.home / "spool"

    @property
    def dbt_target_dir(self) -> Path:
        """dbt's artifacts (run_results.json, partial-parse state) of the runs on this home."""
        return self.home / "dbt" / "target"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        home = Path(env.get("JOURNEY_HOME", "./data")).expanduser().resolve()
        warehouse = env.get("JOURNEY_WAREHOUSE")
        reports = env.get("JOURNEY_REPORTS_DIR")
        serving = env.get("JOURNEY_SERVING_DB")
        return cls(
            home=home,
            warehouse=Path(warehouse).expanduser().resolve() if warehouse else home / "warehouse.duckdb",
            ttl_hours=_positive_float(env, "JOURNEY_TTL_HOURS", 24.0),
            store_message_text=env.get("JOURNEY_STORE_MESSAGE_TEXT", "").lower() in {"1", "true", "yes"},
            segment_max_bytes=int(_positive_float(env, "JOURNEY_SEGMENT_MAX_BYTES", 64 * 1024 * 1024)),
            segment_max_age_s=_positive_float(env, "JOURNEY_SEGMENT_MAX_AGE_S", 5.0),
            reports_dir=Path(reports).expanduser().resolve() if reports else home / "reports",
            serving_db=_serving_db(serving, home),
            ttl_clock=_choice(env, "JOURNEY_TTL_CLOCK", ("watermark", "wall")),
            destination=_choice(env, "JOURNEY_DESTINATION", ("duckdb", "postgres")),
            max_future_s=_positive_float(env, "JOURNEY_MAX_FUTURE_S", 3600.0),
            load_batch_bytes=int(_positive_float(env, "JOURNEY_LOAD_BATCH_BYTES", 256 * 1024 * 1024)),
            duckdb_memory_limit=_memory(env, "JOURNEY_DUCKDB_MEMORY_LIMIT", "2GB"),
            hash_key=env.get("JOURNEY_HASH_KEY") or None,
        )


def _serving_db(raw: str | None, home: Path) -> Path:
    """DuckDB names a file's catalog after its stem, and a catalog `marts` beside the
    schema `marts` makes every `marts.<table>` query ambiguous (docs/decisions.md)."""
    path = Path(raw).expanduser().resolve() if raw else home / "serving" / "journey.duckdb"
    if path.stem.lower() == "marts":
        raise ValueError(f"JOURNEY_SERVING_DB must not be named {path.name}: DuckDB would call its catalog "
                         "'marts', the schema's name, and every query of marts.<table> would be ambiguous; "
                         "choose another file name, e.g. journey.duckdb")
    return path


def _memory(env, name: str, default: str) -> str:
    raw = (env.get(name) or default).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", raw, re.IGNORECASE):
        raise ValueError(f"{name} must be a size such as 2GB or 512MiB, got {raw!r}")
    return raw


def _positive_float(env, name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


def _choice(env, name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name) or choices[0]
    if raw not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw
