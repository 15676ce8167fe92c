"""Numbers in the words a support manager reads: units spelled out, changes
signed against the previous period, nulls explained instead of shown as nan."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from orchestration.defs.report.marts import Headline
from orchestration.defs.report.model import Figure, Period

# Older data than this at render time gets a warning on the page and in the mail.
STALE_AFTER = timedelta(days=1)


def missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def duration(seconds: float | None) -> str:
    """Seconds under a minute, then minutes and seconds, hours and minutes, days and hours."""
    if missing(seconds):
        return "n/a"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


def percent(share: float | None) -> str:
    return "n/a" if missing(share) else f"{100 * share:.1f} %"


def count(n: float | None) -> str:
    return f"{0 if missing(n) else n:,.0f}"


def score(value: float | None) -> str:
    return "n/a" if missing(value) else f"{value:.2f} / 5"


def local_time(utc: datetime, zone: str) -> str:
    """Mart timestamps are naive UTC; the reader wants the reporting zone."""
    moment = utc.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone))
    return moment.strftime("%a %-d %b %Y %H:%M")


def short_day(utc: datetime, zone: str) -> str:
    return utc.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone)).strftime("%a %-d %b")


def day_label(end: datetime, zone: str) -> str:
    """A 24-hour bucket ending at `end`, named after the day its middle falls on."""
    return short_day(end - timedelta(hours=12), zone)


# What a pending figure (model.Figure.pending) shows instead of its value.
NOT_YET = "not yet measurable (recontact window still open)"


def value(figure: Figure, current: bool = True) -> str:
    number = figure.current if current else figure.previous
    if current and figure.pending and missing(number):
        return NOT_YET
    return {"count": count, "share": percent, "seconds": duration, "score": score}[figure.unit](number)


def n_days(n: int) -> str:
    """'7 days', or 'day' for one: 'the last 7 days', 'the previous day'."""
    return "day" if n == 1 else f"{n} days"


def change(figure: Figure, had_sessions_before: bool) -> str:
    """'▲ 12 %' for counts and durations, '▼ 2.1 pts' for shares, '▲ 0.25' for scores."""
    if not had_sessions_before:
        return "no earlier data"
    delta = figure.change
    if missing(delta):
        return "no earlier value"
    if figure.unit == "score":
        size, unit = round(abs(delta), 2), ""
    elif figure.unit == "share":
        size, unit = round(abs(delta) * 100, 1), " pts"
    else:
        size, unit = round(abs(delta) * 100, 0 if abs(delta) >= 0.1 else 1), " %"
    if not size:
        return "no change"
    return f"{'▲' if delta > 0 else '▼'} {size:g}{unit}"


def versus(figure: Figure, period_days: int, had_sessions_before: bool) -> str:
    """The change with what it is measured against: '▲ 12 % vs previous 7 days'
    ('' for a figure not measurable yet)."""
    if figure.pending:
        return ""
    text = change(figure, had_sessions_before)
    return text if text.startswith("no earlier") else f"{text} vs previous {n_days(period_days)}"


def tone(figure: Figure) -> str:
    """'good', 'bad' or 'neutral': how the change reads for the business, for its colour."""
    if figure.higher_is_better is None or missing(figure.change) or not figure.change:
        return "neutral"
    return "good" if (figure.change > 0) == figure.higher_is_better else "bad"


def period_span(period: Period, zone: str) -> str:
    return f"{local_time(period.start, zone)} to {local_time(period.end, zone)} ({zone})"


def period_dates(period: Period, zone: str) -> str:
    """'Tue 24 Nov – Mon 30 Nov 2026' when the period is whole local days (the usual
    midnight watermark), else its ends to the minute."""
    start, end = (t.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone)) for t in (period.start, period.end))
    if start.time() == end.time() == datetime.min.time():
        last = end - timedelta(days=1)
        return f"{start:%a %-d %b} – {last:%a %-d %b %Y}"
    return f"{start:%a %-d %b %H:%M} – {end:%a %-d %b %Y %H:%M}"


def data_as_of(h: Headline, zone: str) -> str:
    return "no events loaded yet" if h.data_watermark is None else f"{local_time(h.data_watermark, zone)} ({zone})"


def staleness(h: Headline, now: datetime) -> str | None:
    """The warning to show when the newest data is over a day old at `now` (aware), else None."""
    if h.data_watermark is None:
        return None
    age = now - h.data_watermark.replace(tzinfo=timezone.utc)
    if age <= STALE_AFTER:
        return None
    return (f"These numbers may be out of date: the newest event loaded is {_age(age)} old. "
            "Check that the pipeline is loading data before acting on them.")


def _age(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.0f} days"


def headline_sentences(h: Headline, zone: str) -> list[str]:
    """One line per headline figure with its change: the text part of the mail."""
    if not h.sessions:
        return [f"No customer session started between {period_span(h.period, zone)}, so there is nothing to report."]
    return [f"{f.label}: {value(f)}{_in_brackets(versus(f, h.period.days, h.has_previous))} — {f.hint}."
            for f in h.figures]


def _in_brackets(text: str) -> str:
    return f" ({text})" if text else ""
