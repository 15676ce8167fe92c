"""Handshake tokens (docs/contract.md §5.1): short-lived JWTs that tie a webview to its chat.

HS256 with an allow-list of one algorithm, an audience, a short expiry and a
`kid` header, so keys rotate: the first key of `JOURNEY_TOKEN_KEYS` signs, all
of them verify. The token carries the conversation id and the *hashed*
channel user id, never the phone number, because it travels through a browser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

AUDIENCE = "journey-webview"
ALGORITHM = "HS256"
MIN_KEY_BYTES = 32


class TokenError(ValueError):
    """A token that must be refused; the message says why without echoing it."""


@dataclass(frozen=True)
class TokenKeys:
    keys: dict[str, bytes]  # kid -> secret; insertion order: the first one signs
    ttl_s: int = 900

    @classmethod
    def parse(cls, spec: str, ttl_s: int = 900) -> "TokenKeys":
        """`kid1:secret1,kid2:secret2`; every secret at least 256 bits."""
        keys: dict[str, bytes] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            kid, sep, secret = item.partition(":")
            if not sep or not kid or not secret:
                raise ValueError("JOURNEY_TOKEN_KEYS entries must look like kid:secret")
            if len(secret.encode()) < MIN_KEY_BYTES:
                raise ValueError(f"token key {kid!r} is shorter than {MIN_KEY_BYTES} bytes")
            keys[kid] = secret.encode()
        if not keys:
            raise ValueError("JOURNEY_TOKEN_KEYS holds no key")
        return cls(keys, ttl_s)

    def issue(self, claims: dict[str, Any], now: float | None = None) -> tuple[str, int]:
        kid, secret = next(iter(self.keys.items()))
        issued = int(now if now is not None else time.time())
        expires = issued + self.ttl_s
        token = jwt.encode({**claims, "aud": AUDIENCE, "iat": issued, "exp": expires},
                           secret, algorithm=ALGORITHM, headers={"kid": kid})
        return token, expires

    def verify(self, token: str) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise TokenError("malformed token") from None
        secret = self.keys.get(kid) if isinstance(kid, str) else None
        if secret is None:
            raise TokenError("unknown key id")
        try:
            return jwt.decode(token, secret, algorithms=[ALGORITHM], audience=AUDIENCE,
                              options={"require": ["exp", "aud", "cid"]})
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except jwt.InvalidAudienceError:
            raise TokenError("wrong audience") from None
        except jwt.PyJWTError:
            raise TokenError("invalid signature or claims") from None
