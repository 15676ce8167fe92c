"""The real collector application in this process, on a real file spool.

Properties that fuzz validation send thousands of requests; over loopback each
would pay a socket round trip and the HTTP parser, which says nothing about
validation. `InProcessCollector` drives the same `Collector` ASGI app that
`journey collect` serves (its lifespan, group commit and fsync included)
straight from an event loop, with no mock anywhere: only the socket is gone.
The wire itself is fuzzed over loopback elsewhere (test_fuzz.py, test_slow_clients.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from ingestion.collector.app import Collector
from ingestion.settings import CollectorConfig, Settings
from tests.support.collector_server import CollectorKeys


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes

    def json(self):
        return orjson.loads(self.body)


@dataclass
class InProcessCollector(CollectorKeys):
    def __post_init__(self) -> None:
        env = self.collector_env()
        self.config = CollectorConfig.load(env)
        self.app = Collector(Settings.from_env(env), self.config)

    def start(self) -> "InProcessCollector":
        """Its lifespan (the group committer) on an event loop of its own; requests then run on that loop."""
        self.loop = asyncio.new_event_loop()
        self._lifespan_in: asyncio.Queue = asyncio.Queue()
        self._lifespan_out: asyncio.Queue = asyncio.Queue()
        self._lifespan = self.loop.create_task(self.app({"type": "lifespan"}, self._lifespan_in.get,
                                                        self._lifespan_out.put))
        self._lifespan_step("startup")
        return self

    def _lifespan_step(self, step: str) -> None:
        async def step_and_wait():
            await self._lifespan_in.put({"type": f"lifespan.{step}"})
            reply = await self._lifespan_out.get()
            assert reply["type"] == f"lifespan.{step}.complete", reply
        self.loop.run_until_complete(step_and_wait())

    def close(self) -> None:
        """Stop as `journey collect` stops (the open segment sealed); a second call does nothing."""
        if self.loop.is_closed():
            return
        self._lifespan_step("shutdown")
        self.loop.run_until_complete(self._lifespan)
        self.loop.close()

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                query: str = "") -> Answer:
        return self.loop.run_until_complete(self._call(method, path, body, headers or {}, query))

    def post(self, path: str, body, headers: dict[str, str] | None = None, key: bool = True) -> Answer:
        """`body` as JSON unless it is bytes; with the API key as Bearer unless `key` is False."""
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        headers = {"content-type": "application/json", **(headers or {})}
        if key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return self.request("POST", path, raw, headers)

    async def _call(self, method: str, path: str, body: bytes, headers: dict[str, str], query: str) -> Answer:
        raw_headers = [(b"host", b"collector.test"), (b"content-length", str(len(body)).encode()),
                       *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
                 "root_path": "", "headers": raw_headers, "client": ("127.0.0.1", 50000),
                 "server": ("collector.test", 80)}
        sent = False
        answer = Answer(0, {}, b"")

        async def receive():
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                answer.status, answer.headers = message["status"], dict(message.get("headers", []))
            else:
                answer.body += message.get("body", b"")

        await self.app(scope, receive, send)
        return answer


def in_process(home: Path, **env: str) -> Iterator[InProcessCollector]:
    collector = InProcessCollector(home, env).start()
    try:
        yield collector
    finally:
        collector.close()
