"""Numbers in the words a stakeholder reads: units spelled out, nulls explained."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from orchestration.defs.report.marts import Headline


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    seconds = round(seconds)
    if seconds < 90:
        return f"{seconds} seconds"
    minutes, rest = divmod(seconds, 60)
    if minutes < 90:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def percent(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.1f} %"


def count(n: int | None) -> str:
    return f"{n or 0:,}"


def local_time(utc: datetime, zone: str) -> str:
    """Mart timestamps are naive UTC; the reader wants the reporting zone."""
    moment = utc.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone))
    return moment.strftime("%a %-d %b %Y %H:%M")


def period(headline: Headline, zone: str) -> str:
    """The span of session starts the report covers, or why there is none."""
    if headline.first_started_at is None:
        return "no sessions yet"
    first, last = (local_time(t, zone) for t in (headline.first_started_at, headline.last_started_at))
    return f"from {first} to {last} ({zone})"


def headline_sentences(h: Headline, zone: str) -> list[str]:
    if not h.sessions:
        return ["No customer session has been recorded yet, so there is nothing to report."]
    sentences = [
        f"{count(h.sessions)} customer sessions started {period(h, zone)}.",
        f"{count(h.resolved)} of them ({percent(h.resolved_share)}) were resolved; "
        f"{count(h.expired)} expired without a resolution and {count(h.still_open)} are still open.",
        f"Bot containment: the bot resolved {count(h.bot_contained)} sessions ({percent(h.bot_containment)}) "
        "on its own, without a human agent.",
    ]
    if h.queue_waits:
        sentences.append(
            f"{count(h.escalated)} sessions asked for a human agent. Half of them waited "
            f"{duration(h.median_first_queue_wait_s)} or less in the queue the first time "
            f"(median first queue wait, over {count(h.queue_waits)} finished waits).")
    else:
        sentences.append("No session has finished waiting in the agent queue yet, so there is no queue wait.")
    if h.agent_first_responses:
        sentences.append(
            f"Half of the queued sessions that got a human reply got it within "
            f"{duration(h.median_agent_first_response_s)} of joining the queue "
            f"(median agent first response, over {count(h.agent_first_responses)} sessions).")
    else:
        sentences.append("No human agent has replied yet, so there is no agent response time.")
    if h.webview_events:
        sentences.append(
            f"Ghost rate: {percent(h.ghost_rate)} of {count(h.webview_events)} self-service page events "
            "came without a valid chat link, so they cannot be tied to a conversation.")
    else:
        sentences.append("No self-service page events were recorded, so there is no ghost rate.")
    return sentences
