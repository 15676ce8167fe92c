"""The filters every page takes from its query string: a period of whole UTC days
(start and end dates, both included) and the session dimensions channel,
department, query nature and team.

They reach DuckDB only as bound parameters ($first_day, $last_day, $channel, …);
every query's text is a constant of this package. A value that is not a date, a
period longer than a year or a value longer than any dimension holds is refused
with 400 and a sentence saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from urllib.parse import urlencode

DIMENSIONS = {"channel": "channel", "department": "department", "query_nature": "query nature", "team": "team"}
DEFAULT_DAYS = 7
MAX_DAYS = 366
MAX_VALUE_LENGTH = 200


class BadFilter(ValueError):
    """A query parameter the dashboard cannot use; the message says which and why."""


@dataclass(frozen=True)
class Period:
    """Whole UTC days from `first_day` to `last_day`, both included."""

    first_day: date
    last_day: date

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def previous(self) -> Period:
        """The period of equal length just before this one."""
        return Period(self.first_day - timedelta(days=self.days), self.first_day - timedelta(days=1))

    @property
    def day_list(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range(self.days)]


@dataclass(frozen=True)
class Filters:
    period: Period
    channel: str | None = None
    department: str | None = None
    query_nature: str | None = None
    team: str | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str], latest_day: date,
              earliest_day: Callable[[], date | None] = lambda: None) -> Filters:
        """The filters of a query string; the period defaults to the `DEFAULT_DAYS` days
        ending on `latest_day` (the day of the snapshot's data watermark), starting no
        earlier than `earliest_day()` (the first day with a session, asked only when the
        query gives no start): a young warehouse opens on its data, not on empty days."""
        last = _day(query, "end") or latest_day
        first = _day(query, "start")
        if first is None:
            first = last - timedelta(days=DEFAULT_DAYS - 1)
            earliest = earliest_day()
            if earliest is not None and first < earliest <= last:
                first = earliest
        if first > last:
            raise BadFilter(f"the period starts ({first}) after it ends ({last})")
        if (last - first).days >= MAX_DAYS:
            raise BadFilter(f"the period is longer than {MAX_DAYS} days; choose a shorter one")
        return cls(Period(first, last), **{name: _value(query, name) for name in DIMENSIONS})

    @property
    def dimensions(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in DIMENSIONS}

    def params(self) -> dict:
        """The named parameters of the dashboard's queries."""
        return {"first_day": self.period.first_day, "last_day": self.period.last_day, **self.dimensions}

    def previous(self) -> Filters:
        return replace(self, period=self.period.previous)

    def with_(self, **changes) -> Filters:
        """Other filters: a period by `start`/`end` days, dimensions by name (None: all)."""
        period = Period(changes.pop("start", self.period.first_day), changes.pop("end", self.period.last_day))
        return replace(self, period=period, **changes)

    def query(self, **extra) -> str:
        """The query string of these filters and `extra` parameters (None values left out)."""
        pairs = {"start": self.period.first_day.isoformat(), "end": self.period.last_day.isoformat(),
                 **self.dimensions, **extra}
        return urlencode({name: value for name, value in pairs.items() if value is not None})

    def link(self, path: str, **extra) -> str:
        return f"{path}?{self.query(**extra)}"


def _day(query: Mapping[str, str], name: str) -> date | None:
    text = query.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadFilter(f"{name}: {text[:40]!r} is not a date (YYYY-MM-DD)") from None


def _value(query: Mapping[str, str], name: str) -> str | None:
    text = query.get(name, "").strip()
    if len(text) > MAX_VALUE_LENGTH:
        raise BadFilter(f"{name}: longer than {MAX_VALUE_LENGTH} characters")
    return text or None

