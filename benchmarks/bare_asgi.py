"""Baseline for the collector benchmark: an ASGI app that appends request
bodies to a file, with no validation, no auth and no fsync."""

import os

_fd = os.open(os.environ.get("BARE_ASGI_FILE", "/tmp/bare-asgi.ndjson"),
              os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    os.write(_fd, body + b"\n")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"15")]})
    await send({"type": "http.response.body", "body": b'{"accepted": 1}'})
