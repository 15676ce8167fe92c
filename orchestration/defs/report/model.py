"""The report's vocabulary: a period of sessions, a headline figure in two periods,
and how a query over the serving snapshot is bound to a period."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import duckdb


@dataclass(frozen=True)
class Period:
    """Sessions started after `start` and at or before `end` (naive UTC, as the marts store time)."""

    start: datetime
    end: datetime
    days: int

    @classmethod
    def ending(cls, end: datetime, days: int) -> Period:
        return cls(end - timedelta(days=days), end, days)

    def earlier(self, days: int) -> Period:
        """The period of the same length `days` days before this one."""
        return replace(self, start=self.start - timedelta(days=days), end=self.end - timedelta(days=days))

    @property
    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return self.earlier(self.days)

    @property
    def with_previous(self) -> Period:
        """This period and the one before, as one."""
        return Period(self.previous.start, self.end, 2 * self.days)

    @property
    def utc_days(self) -> tuple[date, date]:
        """The first and last UTC day whose noon falls in the period, i.e. most of which
        does: how marts kept per UTC day are cut (midnight bounds give exactly its days)."""
        half_day = timedelta(hours=12)
        return (self.start + half_day).date(), (self.end - half_day).date()

    @property
    def params(self) -> dict[str, datetime | date]:
        """The bounds as the named parameters of the report's queries ($start, $end, …)."""
        first_day, last_day = self.utc_days
        return {"start": self.start, "end": self.end, "previous_start": self.previous.start,
                "first_day": first_day, "last_day": last_day}


def query(con: duckdb.DuckDBPyConnection, sql: str, period: Period, **params) -> duckdb.DuckDBPyConnection:
    """Binds the period's bounds (and `params`) the query names (DuckDB refuses unused named parameters)."""
    bound = {**period.params, **params}
    return con.execute(sql, {name: value for name, value in bound.items() if f"${name}" in sql})


@dataclass(frozen=True)
class Figure:
    """One headline number in both periods. `unit` decides how it is written and how
    its change is measured; `higher_is_better` (None: neither) colours the change.
    `pending`: the current value cannot be measured yet (the recontact window is still
    open for every session of its period), which the page says instead of "n/a"."""

    key: str
    label: str
    unit: str                     # "count", "share" (0–1), "seconds" or "score" (1–5)
    current: float | None
    previous: float | None
    higher_is_better: bool | None
    hint: str
    pending: bool = False

    @property
    def change(self) -> float | None:
        """Relative change for counts and durations, a difference for shares (in 0–1) and scores."""
        if self.current is None or self.previous is None:
            return None
        if self.unit in ("share", "score"):
            return self.current - self.previous
        return self.current / self.previous - 1 if self.previous else None
