"""Pseudonymisation at the edge (docs/contract.md §9.4): channel user ids are phone numbers,
so they are replaced by a keyed hash before anything touches disk, and
message text is dropped unless the operator opted in.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from functools import lru_cache
from typing import Any

from ingestion.settings import Settings

HASH_PREFIX = "h:"


def load_hash_key(settings: Settings) -> bytes:
    """`JOURNEY_HASH_KEY` if set, else a random 256-bit key kept (0600) under the home.

    The key must stay stable: the same person has to hash to the same value
    in every load, or identity stitching breaks.
    """
    if settings.hash_key:
        key = settings.hash_key.encode()
        if len(key) < 32:
            raise ValueError("JOURNEY_HASH_KEY must be at least 32 characters (256 bits)")
        return key
    path = settings.secrets_dir / "identity-hash.key"
    if not path.exists():
        settings.secrets_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


@lru_cache(maxsize=65536)
def pseudonymize(value: str, key: bytes) -> str:
    # Cached: the same people write again and again, and the HMAC is the
    # costliest step of accepting an event.
    return HASH_PREFIX + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def scrub(event: dict[str, Any], key: bytes, store_message_text: bool = False) -> dict[str, Any]:
    """Make the event fit to be stored, in place: hashed channel user id, no text by default.

    In place because the edge owns the dicts it is handed (decoded or built
    for it), and copying two of them per event was a tenth of the
    collector's CPU on a batch. Returns `event`.
    """
    identity = event.get("identity")
    if isinstance(identity, dict):
        raw = identity.get("channel_user_id")
        if isinstance(raw, str) and not raw.startswith(HASH_PREFIX):
            identity["channel_user_id"] = pseudonymize(raw, key)
    props = event.get("properties")
    if not store_message_text and isinstance(props, dict):
        props.pop("text", None)
    return event


# E.164 numbers are at most 15 digits; 8 or more in a row, not inside a word or
# a hex hash, are taken for a phone number (an epoch timestamp is masked too).
PHONE_LIKE = re.compile(r"(?<![\w.])\+?\d{8,15}(?!\w)")
TEXT_VALUE = re.compile(r'("text"\s*:\s*)"(?:[^"\\]|\\.)*"')
REDACTED = "[redacted]"


def redact(text: str, store_message_text: bool = False) -> str:
    """Quarantined input as text: `scrub` found the fields it knows, but a line
    that is not JSON, or an id of the wrong type, can still carry a phone number
    or a message in clear, so those are masked wherever they sit."""
    text = PHONE_LIKE.sub(REDACTED, text)
    return text if store_message_text else TEXT_VALUE.sub(rf'\1"{REDACTED}"', text)
