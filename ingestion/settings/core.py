"""The settings every part of the pipeline shares (docs/contract.md §8.2), with the
sections some parts need: the sink, PostgreSQL and the report's mail relay.

Every component (importer, loader, dbt, Dagster) takes its paths from here so
that they all touch the same absolute DuckDB file and spool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingestion.settings.sections import PostgresSettings, SinkConfig, SmtpSettings
from ingestion.settings.source import Source


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
    # The Dagster instance `journey` runs on (Dagster's own DAGSTER_HOME, default
    # $JOURNEY_HOME/dagster); out of the repr: where runs are recorded changes no build.
    dagster_home: Path = field(repr=False)
    # docs/contract.md §4.7: the TTL worker expires sessions idle as of the latest event
    # loaded ("watermark", reproducible) or as of the wall clock ("wall").
    ttl_clock: str = "watermark"
    # Where the loader writes `raw` (JOURNEY_DESTINATION): the DuckDB file, or
    # PostgreSQL at JOURNEY_PG_* (the scale path of docs/contract.md §1; dbt then runs --target postgres),
    # or Parquet files for Spark under `spark_dir` (docs/deployment.md "Spark"; dbt's target `spark`).
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
    # The contact-centre measures (docs/contract.md §6.2), dbt vars like the TTL: a session
    # is mature, and its recontact counted, this many days after it ended.
    recontact_window_days: float = 7.0
    # Service level: the share of offered queue visits answered within each of these seconds.
    service_level_thresholds_s: tuple[int, ...] = (60, 300)
    # A queue visit abandoned sooner than this is a short abandon, left out of the offered.
    short_abandon_s: float = 30.0
    # The IANA zone of the heatmap's weekday and hour and of the report's local times.
    reporting_timezone: str = "UTC"
    # JOURNEY_HASH_KEY, if the operator manages the pseudonymisation key; never printed.
    hash_key: str | None = field(default=None, repr=False)
    # JOURNEY_DASHBOARD_PASSWORD: the dashboard's HTTP Basic password (dashboard/security.py); never printed.
    dashboard_password: str | None = field(default=None, repr=False)
    # The sections. Left out of the repr, which `journey run` fingerprints
    # (orchestration/run_state.py): none of them changes what a run builds.
    sink: SinkConfig = field(default_factory=SinkConfig, repr=False)
    postgres: PostgresSettings = field(default_factory=PostgresSettings, repr=False)
    smtp: SmtpSettings = field(default_factory=SmtpSettings, repr=False)

    @property
    def spool_dir(self) -> Path:
        return self.home / "spool"

    @property
    def dbt_target_dir(self) -> Path:
        """dbt's artifacts (run_results.json, partial-parse state) of the runs on this home."""
        return self.home / "dbt" / "target"

    @property
    def spark_dir(self) -> Path:
        """Spark's own files with JOURNEY_DESTINATION=spark: `raw` as Parquet, the
        metastore and the tables dbt builds (dbt_project/profiles.yml, target `spark`)."""
        return self.home / "spark"

    @property
    def dbt_target(self) -> str:
        """The dbt target a run builds: `spark` on Spark, else the DuckDB warehouse
        (PostgreSQL is built by hand with `--target postgres`, docs/deployment.md)."""
        return "spark" if self.destination == "spark" else "duckdb"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    def dbt_vars(self) -> dict[str, object]:
        """The dbt vars the models read, as every build passes them (`--vars`): a changed
        one changes the run's fingerprint, so the next `journey run` rebuilds."""
        return {
            "ttl_hours": self.ttl_hours,
            "recontact_window_days": self.recontact_window_days,
            "service_level_thresholds_s": list(self.service_level_thresholds_s),
            "short_abandon_s": self.short_abandon_s,
            "reporting_timezone": self.reporting_timezone,
        }

    def dbt_env(self) -> dict[str, str]:
        """What dbt's profile (dbt_project/profiles.yml) reads besides JOURNEY_PG_*: the
        one absolute warehouse path and the memory bound, for every dbt process, and on
        Spark the folder of its metastore and tables (the profile has no default for it)."""
        env = {"JOURNEY_WAREHOUSE": str(self.warehouse), "JOURNEY_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit}
        if self.destination == "spark":
            env["JOURNEY_SPARK_DIR"] = str(self.spark_dir)
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Every section from `env` (default: the process environment), validated:
        an invalid value raises ValueError naming its variable."""
        return cls.read(Source(env))

    @classmethod
    def read(cls, source: Source) -> "Settings":
        home = Path(source.exact("JOURNEY_HOME", "./data")).expanduser().resolve()
        return cls(
            home=home,
            warehouse=source.path("JOURNEY_WAREHOUSE", home / "warehouse.duckdb"),
            ttl_hours=source.number("JOURNEY_TTL_HOURS", 24.0),
            store_message_text=source.flag("JOURNEY_STORE_MESSAGE_TEXT"),
            segment_max_bytes=source.whole("JOURNEY_SEGMENT_MAX_BYTES", 64 * 1024 * 1024),
            segment_max_age_s=source.number("JOURNEY_SEGMENT_MAX_AGE_S", 5.0),
            reports_dir=source.path("JOURNEY_REPORTS_DIR", home / "reports"),
            serving_db=_serving_db(source.path("JOURNEY_SERVING_DB", home / "serving" / "journey.duckdb")),
            dagster_home=source.path("DAGSTER_HOME", home / "dagster"),
            ttl_clock=source.choice("JOURNEY_TTL_CLOCK", ("watermark", "wall")),
            destination=source.choice("JOURNEY_DESTINATION", ("duckdb", "postgres", "spark")),
            max_future_s=source.number("JOURNEY_MAX_FUTURE_S", 3600.0),
            load_batch_bytes=source.whole("JOURNEY_LOAD_BATCH_BYTES", 256 * 1024 * 1024),
            duckdb_memory_limit=source.size("JOURNEY_DUCKDB_MEMORY_LIMIT", "2GB"),
            recontact_window_days=source.number("JOURNEY_RECONTACT_WINDOW_DAYS", 7.0),
            service_level_thresholds_s=_thresholds(source, "JOURNEY_SERVICE_LEVEL_THRESHOLDS_S", (60, 300)),
            short_abandon_s=source.number("JOURNEY_SHORT_ABANDON_S", 30.0, allow_zero=True),
            reporting_timezone=_time_zone(source, "JOURNEY_REPORTING_TIMEZONE"),
            hash_key=_hash_key(source.text("JOURNEY_HASH_KEY")),
            dashboard_password=source.text("JOURNEY_DASHBOARD_PASSWORD"),
            sink=SinkConfig.read(source),
            postgres=PostgresSettings.read(source),
            smtp=SmtpSettings.read(source),
        )


def _thresholds(source: Source, name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """Distinct whole seconds above 0, ascending (the report's headline uses the first)."""
    items = source.items(name)
    if not items:
        return default
    try:
        values = [int(item) for item in items]
    except ValueError:
        raise ValueError(f"{name} must be whole seconds separated by commas, e.g. 60,300; got {items!r}") from None
    if min(values) <= 0 or len(set(values)) != len(values):
        raise ValueError(f"{name} must be distinct whole seconds above 0, got {items!r}")
    return tuple(sorted(values))


def _time_zone(source: Source, name: str) -> str:
    zone = source.text(name, "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name} must be an IANA time zone such as Europe/Amsterdam, got {zone!r}") from None
    return zone


def _hash_key(key: str | None) -> str | None:
    """The pseudonymisation key, when the operator sets one (ingestion/privacy.py uses it)."""
    if key is not None and len(key.encode()) < 32:
        raise ValueError("JOURNEY_HASH_KEY must be at least 32 characters (256 bits)")
    return key


def _serving_db(path: Path) -> Path:
    """DuckDB names a file's catalog after its stem, and a catalog `marts` beside the
    schema `marts` makes every `marts.<table>` query ambiguous (docs/decisions.md)."""
    if path.stem.lower() == "marts":
        raise ValueError(f"JOURNEY_SERVING_DB must not be named {path.name}: DuckDB would call its catalog "
                         "'marts', the schema's name, and every query of marts.<table> would be ambiguous; "
                         "choose another file name, e.g. journey.duckdb")
    return path
