"""A real browser in the journey: chat → handshake → webview (chromium) → collector → marts.

Debian's chromium, driven by Playwright, opens the handshake URL served by a
real collector on loopback, walks the sample funnel to step 3, asks for a
human, and closes the page so `webview.exited` leaves by `sendBeacon`. The
collector is then stopped gracefully (its segment is sealed) and `journey run`
builds the marts from the spool.
"""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from ingestion.privacy import pseudonymize
from tests.conftest import run_journey
from tests.support.browser import ARTIFACTS, CHROMIUM_ARGS, chromium_or_skip
from tests.support.collector_server import CollectorProcess, request

SCREENSHOT = ARTIFACTS / "webview_sample.png"

CONVERSATION, PHONE = "conv-browser", "+31699999999"
CHAT_EVENTS = 2
# opened, step_viewed ×3, escalation.requested (by fetch) and exited (by sendBeacon)
WEBVIEW_TYPES = ["webview.opened", "funnel.step_viewed", "funnel.step_viewed", "funnel.step_viewed",
                 "escalation.requested", "webview.exited"]
TIMEOUT_MS = 15_000


@pytest.fixture
def chromium_path() -> str:
    return chromium_or_skip()


@pytest.fixture
def collector(tmp_path):
    server = CollectorProcess(tmp_path / "home")
    server.env_extra["JOURNEY_WEBVIEW_URL"] = f"{server.url}/webview/sample.html"
    server.start()
    yield server
    server.kill()  # SIGKILL only if the test has not stopped it gracefully already


def _rfc3339(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _accepted(server: CollectorProcess) -> int:
    metrics = request("GET", server.url + "/metrics").body.decode()
    return int(float(next(line.split()[-1] for line in metrics.splitlines()
                          if line.startswith("journey_events_accepted_total "))))


def _wait_accepted(server: CollectorProcess, expected: int, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while (seen := _accepted(server)) < expected:
        assert time.monotonic() < deadline, f"collector accepted {seen} events, expected {expected}"
        time.sleep(0.1)


def _drive_browser(executable: str, url: str, server: CollectorProcess) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            refused: list[str] = []  # the tracker's own complaints (batch refused with <status>)
            page.on("console", lambda msg: msg.text.startswith("journey:") and refused.append(msg.text))
            page.goto(url, wait_until="load")
            expect(page.locator("#next-1")).to_be_visible()
            page.click("#next-1")
            expect(page.locator("#next-2")).to_be_visible()
            page.click("#next-2")
            expect(page.locator("#finish")).to_be_visible()
            page.click("#talk-to-human")
            expect(page.locator("#status")).to_have_text("An agent will answer in the chat.")
            # Everything but webview.exited went by fetch; make sure it arrived before closing.
            _wait_accepted(server, CHAT_EVENTS + len(WEBVIEW_TYPES) - 1)
            assert refused == [], refused
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            page.close(run_before_unload=True)  # pagehide → sendBeacon(webview.exited)
            _wait_accepted(server, CHAT_EVENTS + len(WEBVIEW_TYPES))
        finally:
            browser.close()


def test_browser_journey_reaches_the_marts(chromium_path, collector):
    start = datetime.now(timezone.utc) - timedelta(minutes=1)
    identity = {"channel_user_id": PHONE}
    chat = [
        {"event_id": "browser-msg-1", "type": "message.received", "occurred_at": _rfc3339(start),
         "conversation_id": CONVERSATION, "channel": "whatsapp", "actor": {"kind": "user"},
         "identity": identity, "properties": {"message_id": "wamid.browser-1"}},
        {"event_id": "browser-state-1", "type": "conversation.state_changed",
         "occurred_at": _rfc3339(start + timedelta(seconds=1)), "conversation_id": CONVERSATION,
         "channel": "whatsapp", "actor": {"kind": "system"}, "identity": identity,
         "properties": {"from_state": "inbound_queue", "to_state": "bot_active"}},
    ]
    sent = collector.post("/v1/events", {"events": chat})
    assert sent.status == 200 and sent.json() == {"accepted": CHAT_EVENTS}, sent.body

    handshake = collector.post("/v1/handshake", {"conversation_id": CONVERSATION, "channel_user_id": PHONE})
    assert handshake.status == 200, handshake.body
    url = handshake.json()["url"]
    assert url.startswith(collector.url + "/webview/sample.html?jt=")

    _drive_browser(chromium_path, url, collector)
    collector.kill(signal.SIGTERM)  # graceful: the open segment is sealed
    log = collector.proc.stderr.read().decode()
    # uvicorn shuts down cleanly, then re-raises SIGTERM on itself, hence -15.
    assert collector.proc.returncode in (0, -signal.SIGTERM), log[-3000:]
    assert "Application shutdown complete" in log, log[-3000:]

    out = run_journey(collector.home, collector.hash_key, "run")
    assert "succeeded" in out

    hashed = pseudonymize(PHONE, collector.hash_key.encode())
    with duckdb.connect(str(collector.settings().warehouse), read_only=True) as con:
        rows = con.sql("""
            select type, conversation_id, channel, identity::varchar, properties::varchar
            from raw.events
            where type in ('webview.opened', 'funnel.step_viewed', 'funnel.completed',
                           'escalation.requested', 'webview.exited')
            order by occurred_at, received_at
        """).fetchall()
        session = con.sql("""
            select webview_opened, funnel_completed, unified_user_id
            from marts.fct_sessions where session_id = ?
        """, params=[f"{CONVERSATION}:1"]).fetchall()

    assert sorted(r[0] for r in rows) == sorted(WEBVIEW_TYPES), rows
    for type_, conversation, channel, identity_json, _ in rows:
        assert (conversation, channel) == (CONVERSATION, "webview"), type_
        assert json.loads(identity_json)["channel_user_id"] == hashed, type_
    steps = sorted(json.loads(r[4])["step_index"] for r in rows if r[0] == "funnel.step_viewed")
    assert steps == [1, 2, 3]
    exited = [json.loads(r[4]) for r in rows if r[0] == "webview.exited"]
    assert exited[0]["step_index"] == 3 and exited[0]["funnel"] == "change_address", exited
    escalation = [json.loads(r[4]) for r in rows if r[0] == "escalation.requested"]
    assert escalation[0]["step_index"] == 3, escalation

    assert session == [(True, False, hashed)], session
    assert SCREENSHOT.stat().st_size > 0
