"""The truth of the contact-centre measures (docs/contract.md §6.2) on hand-built sessions: the
edges of thresholds, windows and maturity, where an off-by-one would hide in a simulation."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from ingestion.simulator.records import Journey, Session
from ingestion.simulator.world import DAY, HOUR, SECOND, to_ms
from tests.truth.conversion import funnel_conversion
from tests.truth.marts import heatmap
from tests.truth.quality import follow_ups, resolution_quality
from tests.truth.queue import service_level
from tests.truth.sessions import Settled, ping_pongs, returned_to_bot, settle

T0 = to_ms(datetime(2026, 11, 2, 9, tzinfo=timezone.utc))
TTL = DAY


def session(sid: str, *visits: tuple[str, int], channel: str = "whatsapp") -> Session:
    """A session of conversation `sid` less its ordinal, through the (state, ms) visits given
    after its implicit inbound_queue at the first visit's time."""
    s = Session(sid, sid.rsplit(":", 1)[0], "+31600000001", channel, visits[0][1])
    s.visits += list(visits[1:])
    s.last = visits[-1][1]
    return s


def queued(dwell_ms: int, then: str, watermark: int | None = None) -> Settled:
    """inbound_queue -> pending_agent at T0 + 1 s, left for `then` after `dwell_ms`."""
    s = session("c:1", ("inbound_queue", T0), ("pending_agent", T0 + SECOND), (then, T0 + SECOND + dwell_ms))
    return settle(s, T0 + DAY if watermark is None else watermark, TTL)


def levels(settled: list[Settled], thresholds=(60, 300), short_abandon_s=30.0) -> dict[int, dict]:
    rows = service_level(settled, thresholds, short_abandon_s)
    assert len({(r["day"], r["team"]) for r in rows}) == 1
    return {r["threshold_s"]: r for r in rows}


def test_a_wait_of_exactly_the_threshold_is_within_it():
    at = levels([queued(60 * SECOND, "human_active"), queued(60 * SECOND + 1, "human_active")])
    assert (at[60]["answered"], at[60]["answered_within"], at[300]["answered_within"]) == (2, 1, 2)
    assert at[60]["offered"] == 2 and at[60]["service_level"] == 0.5 and at[300]["service_level"] == 1.0
    assert at[60]["abandon_rate"] == 0.0 and at[60]["day"] == date(2026, 11, 2)


def test_an_abandon_of_exactly_short_abandon_s_is_not_short():
    at = levels([queued(30 * SECOND, "resolved"), queued(30 * SECOND - 1, "resolved"),
                 queued(10 * SECOND, "human_active")])
    row = at[60]
    assert (row["abandoned"], row["short_abandoned"], row["offered"]) == (2, 1, 2)
    assert row["abandon_rate"] == 0.5 and row["service_level"] == 0.5
    fractional = levels([queued(30 * SECOND, "resolved")], short_abandon_s=30.001)[60]
    assert fractional["short_abandoned"] == 1


def test_queue_outcomes_and_nothing_offered():
    back = queued(5 * SECOND, "bot_active")
    waiting = settle(session("w:1", ("inbound_queue", T0), ("pending_agent", T0 + SECOND)), T0 + HOUR, TTL)
    expired = settle(session("e:1", ("inbound_queue", T0), ("pending_agent", T0 + SECOND)), T0 + 2 * DAY, TTL)
    row = levels([back, waiting])[60]
    assert (row["queued"], row["returned_to_bot"], row["waiting"], row["offered"]) == (2, 1, 1, 0)
    assert row["service_level"] is None and row["abandon_rate"] is None
    row = levels([expired])[300]
    assert (row["abandoned"], row["short_abandoned"], row["abandon_rate"]) == (1, 0, 1.0)   # waited a TTL


def test_returned_to_bot_and_ping_pongs():
    s = session("c:1", ("inbound_queue", T0), ("pending_agent", T0 + 1), ("bot_active", T0 + 2),
                ("pending_agent", T0 + 3), ("bot_active", T0 + 4), ("human_active", T0 + 5))
    assert returned_to_bot(settle(s, T0 + HOUR, TTL)) == 2
    for t, (a, b) in enumerate([("billing", "tech"), ("tech", "tech"), ("tech", "general"),
                                ("general", "billing"), ("billing", "tech"), ("tech", "general")]):
        s.transfers.append((T0 + t, a, b))
    # tech -> tech: its own from_team is not an earlier one; general -> billing: A→B→C→A.
    assert ping_pongs(s) == [("general", "billing"), ("billing", "tech"), ("tech", "general")]


def resolved(sid: str, start: int, end: int, channel: str = "whatsapp") -> Session:
    return session(sid, ("inbound_queue", start), ("bot_active", start + SECOND), ("resolved", end),
                   channel=channel)


def follow(sessions: list[Session], persons: dict[str, int], watermark: int, window_days: float = 7.0) -> dict:
    settled = sorted((settle(s, watermark, TTL) for s in sessions), key=lambda o: (o.s.started, o.s.sid))
    return follow_ups(settled, persons, watermark, window_days)


def test_a_recontact_exactly_one_window_after_the_end_counts_a_second_later_does_not():
    end, window = T0 + HOUR, 7 * DAY
    first = [resolved("a:1", T0, end), resolved("b:1", T0, end)]
    later = [resolved("x:1", end + window, end + window + HOUR),
             resolved("y:1", end + window + SECOND, end + window + HOUR)]
    persons = {"a:1": 0, "x:1": 0, "b:1": 1, "y:1": 1}
    out = follow(first + later, persons, watermark=end + window + 2 * HOUR)
    assert out["a:1"] == {"recontacted": True, "first_contact_resolved": False, "durably_contained": False,
                          "reopened": False}
    assert out["b:1"] == {"recontacted": False, "first_contact_resolved": True, "durably_contained": True,
                          "reopened": False}
    half = follow(first + [resolved("x:1", end + DAY // 2, end + DAY), resolved("y:1", end + DAY // 2 + 1, end + DAY)],
                  persons, watermark=end + 2 * DAY, window_days=0.5)           # a fractional window
    assert (half["a:1"]["recontacted"], half["b:1"]["recontacted"]) == (True, False)


def test_reopened_is_the_conversations_next_session_and_only_for_resolved_ones():
    end = T0 + HOUR
    sessions = [resolved("c:1", T0, end), resolved("c:2", end + 6 * DAY, end + 6 * DAY + HOUR),
                resolved("d:1", T0, end), resolved("d:2", end + 8 * DAY, end + 8 * DAY + HOUR),
                session("e:1", ("inbound_queue", T0), ("bot_active", T0 + SECOND)),    # expires at T0 + 1 s + TTL
                resolved("e:2", T0 + 2 * DAY, T0 + 2 * DAY + HOUR)]
    out = follow(sessions, {s.sid: 0 for s in sessions}, watermark=end + 20 * DAY)
    assert out["c:1"]["reopened"] is True and out["c:1"]["first_contact_resolved"] is False
    assert out["d:1"]["reopened"] is False and out["d:1"]["recontacted"] is True    # e:2 started meanwhile
    assert out["e:1"]["reopened"] is None and out["e:1"]["recontacted"] is True     # expired: reopened stays null
    assert out["e:1"]["first_contact_resolved"] is False and out["e:1"]["durably_contained"] is False
    assert out["d:2"]["reopened"] is False                     # no next session


def test_sessions_are_mature_from_one_window_after_their_end():
    end, window = T0 + HOUR, 7 * DAY
    sessions = [resolved("c:1", T0, end), session("o:1", ("inbound_queue", T0), ("bot_active", T0 + SECOND))]
    assert follow(sessions, {"c:1": 0, "o:1": 1}, watermark=end + window)["c:1"]["recontacted"] is False
    out = follow(sessions, {"c:1": 0, "o:1": 1}, watermark=end + window - 1)
    assert out["c:1"] == out["o:1"] == dict.fromkeys(("recontacted", "first_contact_resolved", "durably_contained",
                                                      "reopened"))


def test_resolution_quality_counts_by_day_of_end_and_channel():
    end, watermark = T0 + HOUR, T0 + 10 * DAY
    sessions = [resolved("a:1", T0, end), resolved("b:1", T0, end, "sms"),
                resolved("a:2", end + DAY, end + DAY + HOUR),
                session("q:1", ("inbound_queue", T0), ("pending_agent", T0 + SECOND), ("resolved", end)),
                resolved("late:1", watermark - HOUR, watermark - HOUR // 2)]
    settled = sorted((settle(s, watermark, TTL) for s in sessions), key=lambda o: (o.s.started, o.s.sid))
    persons = {"a:1": 0, "a:2": 0, "b:1": 1, "q:1": 2, "late:1": 3}
    rows = resolution_quality(settled, follow_ups(settled, persons, watermark, 7.0), watermark, 7.0)
    by_key = {(r["day"], r["channel"]): r for r in rows}
    assert list(by_key) == [(date(2026, 11, 2), "sms"), (date(2026, 11, 2), "whatsapp"),
                            (date(2026, 11, 3), "whatsapp"), (date(2026, 11, 12), "whatsapp")]
    day1 = by_key[date(2026, 11, 2), "whatsapp"]
    assert (day1["sessions_ended"], day1["mature_sessions"], day1["mature_resolved"],
            day1["mature_bot_contained"]) == (2, 2, 2, 1)
    assert (day1["recontacted"], day1["first_contact_resolved"], day1["durably_contained"],
            day1["reopened"]) == (1, 1, 0, 1)
    assert (day1["recontact_rate"], day1["fcr_rate"], day1["durable_containment_rate"],
            day1["reopen_rate"]) == (0.5, 0.5, 0.0, 0.5)
    young = by_key[date(2026, 11, 12), "whatsapp"]
    assert young["sessions_ended"] == 1 and young["mature_sessions"] == 0 and young["recontact_rate"] is None


def journey(funnel: str, views: list[int], completions: list[int], escalated: int | None = None) -> Journey:
    j = Journey(funnel)
    j.views = [(t, i) for i, t in enumerate(views, 1)]
    j.completions, j.escalated = completions, escalated
    return j


def test_funnel_conversion_starts_at_the_first_view():
    cases = {"stale": journey("refund_request", [T0 + 10, T0 + 20], [T0 + 5]),           # completed before viewing
             "both": journey("refund_request", [T0 + 10], [T0 + 5, T0 + 10], escalated=1),   # at the view: counts
             "late": journey("refund_request", [T0 + 10, T0 + 20], [T0 + 9, T0 + 4010, T0 + 9000]),
             "escalated": journey("refund_request", [T0 + 10], [], escalated=1),
             "opened": journey("refund_request", [], [])}                                      # no view: no start
    settled = []
    for name, j in cases.items():
        s = session(f"{name}:1", ("inbound_queue", T0))
        s.journeys.append(j)
        settled.append(settle(s, T0 + HOUR, TTL))
    [row] = funnel_conversion(settled)
    assert (row["day"], row["funnel"], row["channel"]) == (date(2026, 11, 2), "refund_request", "whatsapp")
    assert (row["sessions_started"], row["sessions_completed"], row["sessions_escalated"],
            row["sessions_abandoned"]) == (4, 2, 2, 1)
    assert row["conversion_rate"] == 0.5
    assert row["median_time_to_complete_s"] == pytest.approx(2.0)                  # 0 s and 4 s
    assert row["p90_time_to_complete_s"] == pytest.approx(3.6)


def test_heatmap_reads_weekday_and_hour_in_the_reporting_time_zone():
    # Europe/Amsterdam moves to summer time on Sunday 2026-03-29 at 01:00 UTC.
    starts = [datetime(2026, 3, 29, 0, 30), datetime(2026, 3, 29, 1, 30), datetime(2026, 3, 28, 23, 30)]
    settled = [settle(session(f"h{n}:1", ("inbound_queue", to_ms(t))), to_ms(t) + HOUR, TTL)
               for n, t in enumerate(starts)]

    def started(zone: str) -> dict:
        return {(r["iso_weekday"], r["hour"]): r["sessions_started"] for r in heatmap(settled, zone)
                if r["sessions_started"]}

    assert started("UTC") == {(7, 0): 1, (7, 1): 1, (6, 23): 1}
    assert started("Europe/Amsterdam") == {(7, 1): 1, (7, 3): 1, (7, 0): 1}
    assert len(heatmap(settled, "Europe/Amsterdam")) == 168
