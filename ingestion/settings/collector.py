"""The collector's section: the environment first, then an optional TOML file
(`JOURNEY_COLLECTOR_CONFIG`) with the same settings in lower case without the
prefix (`api_keys = [...]` for `JOURNEY_API_KEYS`)."""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingestion.settings.source import Source, as_items

if TYPE_CHECKING:  # imported when loading: PyJWT costs every other command a fifth of a second
    from ingestion.collector.tokens import TokenKeys

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8700
CONFIG_FILE_VARIABLE = "JOURNEY_COLLECTOR_CONFIG"
RATES = ("rate_limit_key_rps", "rate_limit_key_burst", "rate_limit_ip_rps", "rate_limit_ip_burst")


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
    # Seconds a client has for its request headers, then as many for its body (ingestion/collector/deadlines.py):
    # a phone on a poor network sends 512 KB well within it, a slowloris client is cut off.
    client_timeout_s: float = 20.0
    generated_token_key: bool = False

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> "CollectorConfig":
        """From `env` (default: the process environment) over the file it names."""
        source = Source.with_file(env, CONFIG_FILE_VARIABLE)
        config = cls.read(source)
        # A key the collector did not ask for would be silently ignored: a typo (`api_key`), or a
        # setting every command reads (`hash_key`), which the others, not reading the file, would not share.
        unread = source.unread_file_keys()
        if unread:
            raise ValueError(f"{CONFIG_FILE_VARIABLE} names {source.exact(CONFIG_FILE_VARIABLE)}, whose keys "
                             f"{', '.join(unread)} are not the collector's own settings (each is its variable in "
                             f"lower case without JOURNEY_, such as api_keys for JOURNEY_API_KEYS); a setting every "
                             f"command reads belongs in the environment")
        return config

    @classmethod
    def read(cls, source: Source) -> "CollectorConfig":
        token_spec = source.value("JOURNEY_TOKEN_KEYS")
        generated = not token_spec
        if generated:  # tokens then die with the process; fine for a demo, not for production
            token_spec = f"ephemeral:{secrets.token_urlsafe(48)}"
        size = {name: source.whole(f"JOURNEY_{name.upper()}", getattr(cls, name))
                for name in ("max_body_bytes", "max_event_bytes", "spool_max_bytes", "max_webhook_bytes")}
        return cls(
            api_keys=tuple(source.items("JOURNEY_API_KEYS")),
            token_keys=_token_keys(",".join(as_items(token_spec)), source.whole("JOURNEY_TOKEN_TTL_S", 900),
                                   source.whole("JOURNEY_TOKEN_MAX_SESSION_S", 12 * 3600)),
            cors_origins=frozenset(source.items("JOURNEY_CORS_ORIGINS")),
            webview_url=source.value("JOURNEY_WEBVIEW_URL", cls.webview_url),
            whatsapp_app_secret=source.value("JOURNEY_WHATSAPP_APP_SECRET", ""),
            whatsapp_verify_token=source.value("JOURNEY_WHATSAPP_VERIFY_TOKEN", ""),
            **size,
            **{name: _rate(name, source.value(f"JOURNEY_{name.upper()}", getattr(cls, name))) for name in RATES},
            client_timeout_s=source.number("JOURNEY_CLIENT_TIMEOUT_S", cls.client_timeout_s),
            generated_token_key=generated,
        )


def _token_keys(spec: str, ttl_s: int, max_session_s: int) -> TokenKeys:
    from ingestion.collector.tokens import TokenKeys

    try:
        return TokenKeys.parse(spec, ttl_s, max_session_s)
    except ValueError as exc:  # each error names the variable, as every other setting's does
        message = str(exc)
        raise ValueError(message if "JOURNEY_TOKEN_" in message else f"JOURNEY_TOKEN_KEYS: {message}") from None


def _rate(name: str, value: Any) -> float:
    """A rate (0 turns the limit off) or a burst (at least one request)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"JOURNEY_{name.upper()} must be a number, got {value!r}") from None
    least = 1.0 if name.endswith("_burst") else 0.0
    if not number >= least or math.isinf(number):
        raise ValueError(f"JOURNEY_{name.upper()} must be a finite number >= {least:g}, got {value!r}")
    return number
