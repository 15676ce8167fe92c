"""Handshake tokens (docs/contract.md §5.1): short-lived JWTs that tie a webview to its chat.

HS256 with an allow-list of one algorithm, an audience, a short expiry and a
`kid` header, so keys rotate: the first key of `JOURNEY_TOKEN_KEYS` signs, all
of them verify. The token carries the conversation id and the *hashed*
channel user id, never the phone number, because it travels through a browser.

Two kinds, told apart by `typ`: the **link** token the handshake puts in the
webview URL, and the **page** token a page gets by renewing a still-valid
one (§5.2), bound to the same conversation, person and audience. A page token
carries its link's issue time (`link_iat`), and no renewal reaches past
`max_session_s` after it: a leaked token cannot be kept alive forever.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

AUDIENCE = "journey-webview"
ALGORITHM = "HS256"
MIN_KEY_BYTES = 32
LINK, PAGE = "link", "page"
# Claims a renewal sets itself; every other claim (cid, sub, intent, context) is carried over.
RENEWAL_CLAIMS = ("aud", "iat", "exp", "typ", "link_iat")
# Why a token is refused, as /metrics labels them (journey_webview_refused_total).
REASONS = ("malformed", "unknown_key", "expired", "wrong_audience", "invalid", "lifetime")


class TokenError(ValueError):
    """A token that must be refused; the message says why without echoing it, `reason` is one of REASONS."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class TokenKeys:
    keys: dict[str, bytes]  # kid -> secret; insertion order: the first one signs
    ttl_s: int = 900
    max_session_s: int = 12 * 3600  # no page token outlives its link's issue by more

    @classmethod
    def parse(cls, spec: str, ttl_s: int = 900, max_session_s: int = 12 * 3600) -> "TokenKeys":
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
        if ttl_s < 1:
            raise ValueError(f"JOURNEY_TOKEN_TTL_S must be at least 1, got {ttl_s}")
        if max_session_s < ttl_s:
            raise ValueError(f"JOURNEY_TOKEN_MAX_SESSION_S must be at least JOURNEY_TOKEN_TTL_S ({ttl_s}), "
                             f"got {max_session_s}")
        return cls(keys, ttl_s, max_session_s)

    def issue(self, claims: dict[str, Any], now: float | None = None) -> tuple[str, int]:
        """A link token for the handshake: `claims` (cid, sub, ...) for `ttl_s`."""
        issued = int(now if now is not None else time.time())
        return self._sign({**claims, "typ": LINK}, issued, issued + self.ttl_s)

    def renew(self, token: str, now: float | None = None) -> tuple[str, int]:
        """A page token for a still-valid link or page token: the same claims for
        another `ttl_s`, never past `max_session_s` after the link was issued."""
        claims = self.verify(token)
        linked = claims.get("link_iat", claims.get("iat"))
        if not isinstance(linked, int):
            raise TokenError("token has no issue time", "invalid")
        issued = int(now if now is not None else time.time())
        ends = linked + self.max_session_s
        if issued >= ends:
            raise TokenError("visit past its lifetime cap", "lifetime")
        carried = {k: v for k, v in claims.items() if k not in RENEWAL_CLAIMS}
        return self._sign({**carried, "typ": PAGE, "link_iat": linked}, issued, min(issued + self.ttl_s, ends))

    def _sign(self, claims: dict[str, Any], issued: int, expires: int) -> tuple[str, int]:
        kid, secret = next(iter(self.keys.items()))
        token = jwt.encode({**claims, "aud": AUDIENCE, "iat": issued, "exp": expires},
                           secret, algorithm=ALGORITHM, headers={"kid": kid})
        return token, expires

    def verify(self, token: str) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise TokenError("malformed token", "malformed") from None
        secret = self.keys.get(kid) if isinstance(kid, str) else None
        if secret is None:
            raise TokenError("unknown key id", "unknown_key")
        try:
            return jwt.decode(token, secret, algorithms=[ALGORITHM], audience=AUDIENCE,
                              options={"require": ["exp", "aud", "cid"]})
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired", "expired") from None
        except jwt.InvalidAudienceError:
            raise TokenError("wrong audience", "wrong_audience") from None
        except jwt.PyJWTError:
            raise TokenError("invalid signature or claims", "invalid") from None
