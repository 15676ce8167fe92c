"""Runtime configuration: the one place that reads the environment (and the
collector's TOML file), validates it and hands each part its typed section
(docs/contract.md §8.2 lists every variable).

- `Settings.from_env()`: what every command, the collector and the Dagster code
  location read once at start-up: core paths and bounds, with the sections
  `settings.sink` (`SinkConfig`), `settings.postgres` (`PostgresSettings`) and
  `settings.smtp` (`SmtpSettings`); `settings.dbt_env()` is what dbt's profile reads.
- `CollectorConfig.load()`: the collector's own section, environment over file.

A value that cannot be used raises ValueError naming its variable, so a command
fails before it starts work. Nothing else reads `JOURNEY_*` from the environment.
"""

from ingestion.settings.collector import CollectorConfig
from ingestion.settings.core import Settings
from ingestion.settings.sections import PostgresSettings, SinkConfig, SmtpSettings

__all__ = ["CollectorConfig", "PostgresSettings", "Settings", "SinkConfig", "SmtpSettings"]
