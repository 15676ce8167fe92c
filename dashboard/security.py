"""Safe by default: the dashboard listens on loopback unless told otherwise, and
on any other address only behind HTTP Basic with the password of
JOURNEY_DASHBOARD_PASSWORD (any user name), compared in constant time. Every
response forbids scripts, framing and foreign content (the pages need none)."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress

PASSWORD_VARIABLE = "JOURNEY_DASHBOARD_PASSWORD"
REALM = 'Basic realm="journey dashboard", charset="UTF-8"'
HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
     b"base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
OPEN_PATHS = ("/healthz",)  # answers "ok" and nothing else: for probes, without the password


class PasswordRequired(RuntimeError):
    """Refusal to listen beyond loopback without a password."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def check_bind(host: str, password: str | None) -> None:
    if not password and not is_loopback(host):
        raise PasswordRequired(
            f"refusing to listen on {host}: beyond loopback the dashboard needs a password. Set "
            f"{PASSWORD_VARIABLE} (readers then log in with any user name and that password), or listen on "
            "127.0.0.1 and reach it through an SSH tunnel or a reverse proxy that authenticates")


def _authorized(headers: list[tuple[bytes, bytes]], password: str) -> bool:
    value = dict(headers).get(b"authorization", b"")
    scheme, _, encoded = value.partition(b" ")
    if scheme.lower() != b"basic":
        return False
    try:
        _, _, given = base64.b64decode(encoded.strip(), validate=True).partition(b":")
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, password.encode())


class Guard:
    """ASGI middleware: HTTP Basic when a password is set, and the security headers on every response."""

    def __init__(self, app, password: str | None):
        self.app = app
        self.password = password or None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)

        if self.password and scope["path"] not in OPEN_PATHS and not _authorized(scope["headers"], self.password):
            await send_with_headers({"type": "http.response.start", "status": 401,
                                     "headers": [(b"www-authenticate", REALM.encode()),
                                                 (b"content-type", b"text/plain; charset=utf-8")]})
            return await send({"type": "http.response.body", "body": b"This dashboard needs its password.\n"})
        return await self.app(scope, receive, send_with_headers)
