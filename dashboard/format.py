"""How numbers read on the pages (Jinja filters): shares as percentages,
durations in s / min / h, counts with thousands separators, and a change against
the previous period that says whether it is good news."""

from __future__ import annotations

from datetime import date, datetime

DASH = "–"


def count(value: float | None) -> str:
    return DASH if value is None else f"{value:,.0f}"


def share(value: float | None, digits: int = 1) -> str:
    return DASH if value is None else f"{100 * value:.{digits}f} %"


def seconds(value: float | None) -> str:
    """12.3 → '12 s', 125 → '2.1 min', 7300 → '2.0 h'."""
    if value is None:
        return DASH
    if value < 90:
        return f"{value:.0f} s"
    if value < 5400:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def score(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}"


def when(value: datetime | date | None) -> str:
    if value is None:
        return DASH
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.isoformat()


def day(value: date) -> str:
    """'Tue 3 Nov'."""
    return f"{value:%a} {value.day} {value:%b}"


def flag(value: bool | None) -> str:
    return DASH if value is None else ("yes" if value else "no")


def fact(value, name: str) -> str:
    """A column of a mart row as a reader wants it: durations (`*_s`) also in minutes or hours."""
    if value is None or isinstance(value, bool):
        return flag(value)
    if isinstance(value, (datetime, date)):
        return when(value)
    if name.endswith("_s") and isinstance(value, (int, float)):
        return f"{value:,.3f} s" if value < 90 else f"{seconds(value)} ({value:,.0f} s)"
    return str(value)


UNITS = {"count": count, "share": share, "seconds": seconds, "score": score}


def change(current: float | None, previous: float | None, unit: str) -> str:
    """'+4.2 %' for counts and durations (relative), '+1.3 pp' for shares, '' when not comparable."""
    if current is None or previous is None:
        return ""
    if unit == "share":
        return f"{100 * (current - previous):+.1f} pp"
    if unit == "score":
        return f"{current - previous:+.2f}"
    return f"{100 * (current / previous - 1):+.1f} %" if previous else ""


FILTERS = {"count": count, "share": share, "seconds": seconds, "score": score, "when": when, "day": day,
           "flag": flag, "fact": fact}
