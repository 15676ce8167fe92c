"""A real browser in the journey: chat → handshake → webview (chromium) → collector → marts.

Debian's chromium, driven by Playwright, opens the handshake URL served by a
real collector on loopback, walks the sample funnel to step 3, asks for a
human, and closes the page so `webview.exited` leaves by `sendBeacon`. The
collector is then stopped gracefully (its segment is sealed) and `journey run`
builds the marts from the spool.

A second visit outlives its link token (docs/contract.md §5.2): with a token
lifetime of a few seconds instead of 15 minutes, the page walks its funnel over
several lifetimes and is reloaded after the link has expired; every event it
emitted must reach the spool and `raw` exactly once, under the chat's
identity, with nothing refused, while the link token itself is dead by then.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from ingestion.loader import load_spool
from ingestion.privacy import pseudonymize
from tests.conftest import run_journey
from tests.support.browser import ARTIFACTS, CHROMIUM_ARGS
from tests.support.collector_server import CollectorProcess, request

SCREENSHOT = ARTIFACTS / "webview_sample.png"

CONVERSATION, PHONE = "conv-browser", "+31699999999"
CHAT_EVENTS = 2
# opened, step_viewed ×3, escalation.requested (by fetch) and exited (by sendBeacon)
WEBVIEW_TYPES = ["webview.opened", "funnel.step_viewed", "funnel.step_viewed", "funnel.step_viewed",
                 "escalation.requested", "webview.exited"]
TIMEOUT_MS = 15_000
# The long visit: tokens live LINK_TTL_S seconds (renewed at two thirds of that), the page
# stays open over LIFETIMES of them, and emits these events (a reload in the middle).
LINK_TTL_S, LIFETIMES = 4, 4
LONG_VISIT_TYPES = ["webview.opened", "funnel.step_viewed", "funnel.step_viewed", "webview.exited",
                    "webview.opened", "funnel.step_viewed", "funnel.step_viewed", "funnel.step_viewed",
                    "funnel.completed", "webview.exited"]


def _collector(tmp_path, **env: str) -> Iterator[CollectorProcess]:
    server = CollectorProcess(tmp_path / "home", env_extra=env)
    server.env_extra["JOURNEY_WEBVIEW_URL"] = f"{server.url}/webview/sample.html"
    server.start()
    yield server
    server.kill()  # SIGKILL only if the test has not stopped it gracefully already


@pytest.fixture
def collector(tmp_path):
    yield from _collector(tmp_path)


@pytest.fixture
def short_token_collector(tmp_path):
    yield from _collector(tmp_path, JOURNEY_TOKEN_TTL_S=str(LINK_TTL_S))


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


@contextmanager
def _browser_page(executable: str):
    """A page of Debian's chromium, and the list the tracker's own complaints
    (`journey: batch refused with <status>`, ...) are collected in."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            complaints: list[str] = []
            page.on("console", lambda msg: msg.text.startswith("journey:") and complaints.append(msg.text))
            yield page, complaints
        finally:
            browser.close()


def _drive_browser(executable: str, url: str, server: CollectorProcess) -> None:
    from playwright.sync_api import expect

    with _browser_page(executable) as (page, refused):
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


def _stop_gracefully(server: CollectorProcess) -> None:
    server.kill(signal.SIGTERM)  # graceful: the open segment is sealed
    log = server.log.read_text()
    # uvicorn shuts down cleanly, then re-raises SIGTERM on itself, hence -15.
    assert server.proc.returncode in (0, -signal.SIGTERM), log[-3000:]
    assert "Application shutdown complete" in log, log[-3000:]


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
    _stop_gracefully(collector)

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


def _refused(server: CollectorProcess) -> dict[str, float]:
    """journey_webview_refused_total by its labels."""
    metrics = request("GET", server.url + "/metrics").body.decode()
    return {line.split()[0]: float(line.split()[-1]) for line in metrics.splitlines()
            if line.startswith("journey_webview_refused_total{")}


def _long_visit(executable: str, url: str, server: CollectorProcess) -> list[tuple[str, int]]:
    """The sample funnel with a token lifetime and a bit between steps, reloaded after
    its link token expired; the (route, status) of every webview answer the page saw."""
    from playwright.sync_api import expect

    pause_ms = LINK_TTL_S * 1250
    with _browser_page(executable) as (page, complaints):
        answers: list[tuple[str, int]] = []
        page.on("response", lambda r: "/v1/webview/" in r.url
                and answers.append((r.url.rsplit("/", 1)[1], r.status)))
        page.goto(url, wait_until="load")
        expect(page.locator("#next-1")).to_be_visible()
        page.wait_for_timeout(pause_ms)
        page.click("#next-1")
        page.wait_for_timeout(pause_ms)
        page.reload(wait_until="load")  # webview.exited, then the expired link's page opens again
        expect(page.locator("#next-1")).to_be_visible()
        page.wait_for_timeout(pause_ms)
        page.click("#next-1")
        page.click("#next-2")
        page.wait_for_timeout(pause_ms)
        page.click("#finish")
        expect(page.locator("#status")).to_have_text("Done: your address is changed.")
        _wait_accepted(server, len(LONG_VISIT_TYPES) - 1)
        page.close(run_before_unload=True)  # pagehide → sendBeacon(webview.exited)
        _wait_accepted(server, len(LONG_VISIT_TYPES))
        assert complaints == [], complaints  # no batch and no renewal refused
    return answers


def test_a_visit_that_outlives_its_link_token_is_recorded_whole(chromium_path, short_token_collector):
    server = short_token_collector
    handshake = server.post("/v1/handshake", {"conversation_id": CONVERSATION, "channel_user_id": PHONE})
    assert handshake.status == 200, handshake.body
    link = handshake.json()["token"]

    began = time.monotonic()
    answers = _long_visit(chromium_path, handshake.json()["url"], server)
    lasted, renewals = time.monotonic() - began, sum(route == "session" for route, _ in answers)
    print(f"visit of {lasted:.1f} s with {LINK_TTL_S} s tokens: {renewals} renewals, "
          f"{len(answers) - renewals} batches by fetch, answers {sorted(set(answers))}")
    assert lasted > LIFETIMES * LINK_TTL_S
    assert {status for _, status in answers} == {200}, answers
    assert renewals >= LIFETIMES, answers  # renewed all along
    refused = _refused(server)
    assert refused and sum(refused.values()) == 0, refused

    # What the tracker used to do: keep sending the link token, refused once it expired.
    late = server.post("/v1/webview/events", {"token": link, "events": [
        {"event_id": "with-the-link", "type": "webview.opened", "occurred_at": _rfc3339(datetime.now(timezone.utc)),
         "properties": {"funnel": "change_address"}}]}, key=None)
    assert late.status == 401 and "expired" in late.json()["error"], late.body
    assert _refused(server)['journey_webview_refused_total{request="batch",reason="expired"}'] == 1
    _stop_gracefully(server)

    settings = server.settings()
    spooled = [json.loads(line) for path in sorted(settings.spool_dir.glob("ready/*.ndjson"))
               for line in path.read_text().splitlines()]
    ids = [record["event_id"] for record in spooled]
    assert len(ids) == len(set(ids)), "an event stored twice"
    assert sorted(r["type"] for r in spooled) == sorted(LONG_VISIT_TYPES), spooled
    hashed = pseudonymize(PHONE, server.hash_key.encode())
    for record in spooled:
        assert (record["conversation_id"], record["identity"]["channel_user_id"]) == (CONVERSATION, hashed), record
    load_spool(settings)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        stored = con.sql("select event_id, count(*) from raw.events where conversation_id = ? group by all",
                         params=[CONVERSATION]).fetchall()
    assert sorted(stored) == sorted((event_id, 1) for event_id in ids)
