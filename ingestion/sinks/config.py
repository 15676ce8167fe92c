"""Which sink the edge and the loader use, from the environment.

Kept apart from `Settings` because only the spool's two ends read it, and a
NATS deployment is configured once for collectors and loaders alike.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ingestion.settings import _choice, _positive_float

SINKS = ("file", "nats")
_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SUBJECT = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


@dataclass(frozen=True)
class SinkConfig:
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
    def from_env(cls, env: dict[str, str] | None = None) -> "SinkConfig":
        env = os.environ if env is None else env
        config = cls(
            kind=_choice(env, "JOURNEY_SINK", SINKS),
            nats_url=env.get("JOURNEY_NATS_URL") or cls.nats_url,
            nats_stream=env.get("JOURNEY_NATS_STREAM") or cls.nats_stream,
            nats_subject=env.get("JOURNEY_NATS_SUBJECT") or cls.nats_subject,
            nats_consumer=env.get("JOURNEY_NATS_CONSUMER") or cls.nats_consumer,
            nats_max_bytes=int(_positive_float(env, "JOURNEY_NATS_MAX_BYTES", cls.nats_max_bytes)),
            nats_replicas=int(_positive_float(env, "JOURNEY_NATS_REPLICAS", cls.nats_replicas)),
            nats_timeout_s=_positive_float(env, "JOURNEY_NATS_TIMEOUT_S", cls.nats_timeout_s),
            nats_ack_wait_s=_positive_float(env, "JOURNEY_NATS_ACK_WAIT_S", cls.nats_ack_wait_s),
            nats_fetch_batch=int(_positive_float(env, "JOURNEY_NATS_FETCH_BATCH", cls.nats_fetch_batch)),
        )
        for name, value, pattern in (("JOURNEY_NATS_STREAM", config.nats_stream, _STREAM_NAME),
                                     ("JOURNEY_NATS_CONSUMER", config.nats_consumer, _STREAM_NAME),
                                     ("JOURNEY_NATS_SUBJECT", config.nats_subject, _SUBJECT)):
            if not pattern.fullmatch(value):
                raise ValueError(f"{name} must match {pattern.pattern} (no spaces or wildcards), got {value!r}")
        if not config.nats_url.startswith(("nats://", "tls://")):
            raise ValueError(f"JOURNEY_NATS_URL must start with nats:// or tls://, got {config.nats_url!r}")
        return config
