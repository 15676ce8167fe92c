"""The sections of the settings that only some parts read: the sink (the spool's
two ends), PostgreSQL (the loader with JOURNEY_DESTINATION=postgres) and the
report's mail relay. `Settings` carries one of each, read at start-up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ingestion.settings.source import Source

SINKS = ("file", "nats")
_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SUBJECT = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


class _FromEnv:
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None):
        """This section alone, from `env` (default: the process environment)."""
        return cls.read(Source(env))


@dataclass(frozen=True)
class SinkConfig(_FromEnv):
    """Which sink the edge and the loader use (JOURNEY_SINK); a NATS deployment is
    configured once for collectors and loaders alike (docs/deployment.md)."""

    kind: str = "file"
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream: str = "JOURNEY_EVENTS"
    nats_subject: str = "journey.events"
    nats_consumer: str = "journey-loader"
    # The broker's bound: past it a publish is refused and the collector answers 503.
    nats_max_bytes: int = 1 << 30
    nats_replicas: int = 1
    # How long a publish may wait for its PubAck before the request gets 503.
    nats_timeout_s: float = 5.0
    # A fetched batch not acknowledged within this is delivered again; longer than a load takes.
    nats_ack_wait_s: float = 600.0
    nats_fetch_batch: int = 100_000

    @classmethod
    def read(cls, source: Source) -> "SinkConfig":
        config = cls(
            kind=source.choice("JOURNEY_SINK", SINKS),
            nats_url=source.text("JOURNEY_NATS_URL", cls.nats_url),
            nats_stream=source.text("JOURNEY_NATS_STREAM", cls.nats_stream),
            nats_subject=source.text("JOURNEY_NATS_SUBJECT", cls.nats_subject),
            nats_consumer=source.text("JOURNEY_NATS_CONSUMER", cls.nats_consumer),
            nats_max_bytes=source.whole("JOURNEY_NATS_MAX_BYTES", cls.nats_max_bytes),
            nats_replicas=source.whole("JOURNEY_NATS_REPLICAS", cls.nats_replicas),
            nats_timeout_s=source.number("JOURNEY_NATS_TIMEOUT_S", cls.nats_timeout_s),
            nats_ack_wait_s=source.number("JOURNEY_NATS_ACK_WAIT_S", cls.nats_ack_wait_s),
            nats_fetch_batch=source.whole("JOURNEY_NATS_FETCH_BATCH", cls.nats_fetch_batch),
        )
        for name, value, pattern in (("JOURNEY_NATS_STREAM", config.nats_stream, _STREAM_NAME),
                                     ("JOURNEY_NATS_CONSUMER", config.nats_consumer, _STREAM_NAME),
                                     ("JOURNEY_NATS_SUBJECT", config.nats_subject, _SUBJECT)):
            if not pattern.fullmatch(value):
                raise ValueError(f"{name} must match {pattern.pattern} (no spaces or wildcards), got {value!r}")
        if not config.nats_url.startswith(("nats://", "tls://")):
            raise ValueError(f"JOURNEY_NATS_URL must start with nats:// or tls://, got {config.nats_url!r}")
        return config


@dataclass(frozen=True)
class PostgresSettings(_FromEnv):
    """The PostgreSQL of JOURNEY_DESTINATION=postgres (JOURNEY_PG_*). dbt's `postgres`
    target reads the same variables in dbt_project/profiles.yml, which cannot import
    these defaults: tests/contract/test_settings.py holds the two to the same values. A
    variable set to an empty value counts as set, as it does for dbt's `env_var`."""

    host: str = "localhost"
    port: int = 5432
    user: str = "journey"
    password: str | None = field(default=None, repr=False)   # only ever from the environment
    dbname: str = "journey"

    @classmethod
    def read(cls, source: Source) -> "PostgresSettings":
        return cls(
            host=source.exact("JOURNEY_PG_HOST", cls.host),
            port=source.port("JOURNEY_PG_PORT", cls.port, raw=source.exact("JOURNEY_PG_PORT")),
            user=source.exact("JOURNEY_PG_USER", cls.user),
            password=source.exact("JOURNEY_PG_PASSWORD"),
            dbname=source.exact("JOURNEY_PG_DBNAME", cls.dbname),
        )


@dataclass(frozen=True)
class SmtpSettings(_FromEnv):
    """The relay the stakeholder report is mailed through; no host, no mail."""

    host: str | None = None
    port: int = 25
    user: str | None = None
    password: str | None = field(default=None, repr=False)   # never printed, never logged
    starttls: bool = False
    sender: str | None = None
    recipients: tuple[str, ...] = ()

    @classmethod
    def read(cls, source: Source) -> "SmtpSettings":
        smtp = cls(
            host=source.text("JOURNEY_SMTP_HOST"),
            port=source.port("JOURNEY_SMTP_PORT", cls.port),
            user=source.text("JOURNEY_SMTP_USER"),
            password=source.text("JOURNEY_SMTP_PASSWORD"),
            starttls=source.flag("JOURNEY_SMTP_STARTTLS"),
            sender=source.text("JOURNEY_REPORT_FROM"),
            recipients=tuple(source.items("JOURNEY_REPORT_TO")),
        )
        # A host without addresses is a half-done setup: say so now, not at 06:00.
        if smtp.host and not (smtp.sender and smtp.recipients):
            raise ValueError("JOURNEY_SMTP_HOST is set: JOURNEY_REPORT_FROM and JOURNEY_REPORT_TO are needed too")
        return smtp
