"""Collector settings: environment first, then an optional TOML file (`JOURNEY_COLLECTOR_CONFIG`)."""

from __future__ import annotations

import math
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.collector.tokens import TokenKeys

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8700


@dataclass(frozen=True)
class CollectorConfig:
    api_keys: tuple[str, ...] = field(repr=False)
    token_keys: TokenKeys = field(repr=False)
    cors_origins: frozenset[str] = frozenset()
    webview_url: str = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/webview/sample.html"
    max_body_bytes: int = 512 * 1024          # Segment's batch limit
    max_event_bytes: int = 32 * 1024          # Segment's event limit
    spool_max_bytes: int = 1 << 30            # above this the collector answers 503
    retry_after_s: int = 5
    whatsapp_app_secret: str = field(default="", repr=False)
    whatsapp_verify_token: str = field(default="", repr=False)
    max_webhook_bytes: int = 4 * 1024 * 1024  # Meta batches many changes per call
    # Token buckets (requests/s and burst; rps 0 turns a limit off). Per API key
    # (and the signature-verified WhatsApp source): a share of one collector's
    # ~13k single-event requests/s, so one producer cannot take it all. Per client
    # IP (webview route, failed authentication): far above a tracker's few requests
    # per page, room for a NAT of a few hundred users, a cap on one script.
    rate_limit_key_rps: float = 5000.0
    rate_limit_key_burst: float = 10000.0
    rate_limit_ip_rps: float = 50.0
    rate_limit_ip_burst: float = 100.0
    generated_token_key: bool = False

    @classmethod
    def load(cls, env: dict[str, str] | None = None) -> "CollectorConfig":
        env = dict(os.environ if env is None else env)
        file_values: dict = {}
        if env.get("JOURNEY_COLLECTOR_CONFIG"):
            file_values = tomllib.loads(Path(env["JOURNEY_COLLECTOR_CONFIG"]).read_text())

        def get(name: str, default=None):
            env_name = "JOURNEY_" + name.upper()
            return env[env_name] if env.get(env_name) else file_values.get(name, default)

        def as_list(value) -> list[str]:
            if value is None:
                return []
            items = value.split(",") if isinstance(value, str) else value
            return [str(v).strip() for v in items if str(v).strip()]

        token_spec = get("token_keys")
        generated = not token_spec
        if generated:  # tokens then die with the process; fine for a demo, not for production
            token_spec = f"ephemeral:{secrets.token_urlsafe(48)}"
        return cls(
            api_keys=tuple(as_list(get("api_keys"))),
            token_keys=TokenKeys.parse(",".join(as_list(token_spec)), int(get("token_ttl_s", 900))),
            cors_origins=frozenset(as_list(get("cors_origins"))),
            webview_url=get("webview_url", cls.webview_url),
            max_body_bytes=int(get("max_body_bytes", cls.max_body_bytes)),
            max_event_bytes=int(get("max_event_bytes", cls.max_event_bytes)),
            spool_max_bytes=int(get("spool_max_bytes", cls.spool_max_bytes)),
            whatsapp_app_secret=get("whatsapp_app_secret", ""),
            whatsapp_verify_token=get("whatsapp_verify_token", ""),
            max_webhook_bytes=int(get("max_webhook_bytes", cls.max_webhook_bytes)),
            **{name: _rate(name, get(name, getattr(cls, name)))
               for name in ("rate_limit_key_rps", "rate_limit_key_burst", "rate_limit_ip_rps", "rate_limit_ip_burst")},
            generated_token_key=generated,
        )


def _rate(name: str, value) -> float:
    """A rate (0 turns the limit off) or a burst (at least one request)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"JOURNEY_{name.upper()} must be a number, got {value!r}") from None
    least = 1.0 if name.endswith("_burst") else 0.0
    if not number >= least or math.isinf(number):
        raise ValueError(f"JOURNEY_{name.upper()} must be a finite number >= {least:g}, got {value!r}")
    return number
