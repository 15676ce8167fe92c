"""The contact-centre figures of the headline (docs/contract.md §6.2): service level
and abandon rate from `marts.mart_service_level`, first-contact resolution and
durable containment from `marts.mart_resolution_quality`, and the service level
per team and day the report charts.

Both marts are kept per UTC day; a period takes its days (`Period.utc_days`) and
adds up their counts, so each figure is a ratio of sums, never an average of rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from orchestration.defs.report.model import Figure, Period, query


@dataclass(frozen=True)
class Measures:
    """The §6.2 settings the marts were built with (`ingestion.settings.Settings`; these
    defaults are its own). The report cannot read them from the snapshot."""

    service_level_threshold_s: int | None = None  # the headline's threshold; None: the smallest in the mart
    recontact_window_days: float = 7.0
    short_abandon_s: float = 30.0


THRESHOLDS_SQL = "select distinct threshold_s from marts.mart_service_level order by threshold_s"

SERVICE_SQL = """
select
    sum(answered_within) / nullif(sum(offered), 0) as service_level,
    sum(abandoned - short_abandoned) / nullif(sum(offered), 0) as abandon_rate
from marts.mart_service_level
where threshold_s = $threshold_s and day between $first_day and $last_day
"""

RESOLUTION_SQL = """
select
    coalesce(sum(mature_sessions), 0) as mature_sessions,
    sum(first_contact_resolved) / nullif(sum(mature_resolved), 0) as fcr,
    sum(durably_contained) / nullif(sum(mature_bot_contained), 0) as durable_containment
from marts.mart_resolution_quality
where day between $first_day and $last_day
"""

# The first UTC day on which some session that ended is not mature yet (its recontact window still open).
FIRST_OPEN_DAY_SQL = "select min(day) from marts.mart_resolution_quality where mature_sessions < sessions_ended"

# Per team and UTC day of both periods at the headline's threshold, then all teams per day (team null).
SERVICE_DAYS_SQL = """
with days as (
    select day, team, offered, answered_within, abandoned - short_abandoned as abandoned
    from marts.mart_service_level
    where threshold_s = $threshold_s and day between $first_day and $last_day
)

select day, team, offered, answered_within, abandoned from days
union all
select day, null, sum(offered)::bigint, sum(answered_within)::bigint, sum(abandoned)::bigint from days group by day
order by day, team nulls last
"""


@dataclass(frozen=True)
class Quality:
    threshold_s: int | None         # the service level's threshold (None: the mart is empty)
    resolution_period: Period       # the days first-contact resolution and durable containment cover
    figures: tuple[Figure, ...]     # service level, abandon rate, FCR, durable containment
    service_days: pd.DataFrame      # SERVICE_DAYS_SQL over both periods, with service_level


def read_quality(con: duckdb.DuckDBPyConnection, period: Period, measures: Measures) -> Quality:
    threshold = _threshold(con, measures)
    resolution = resolution_period(con, period)
    service = [_service(con, p, threshold) for p in (period, period.previous)]
    outcomes = [query(con, RESOLUTION_SQL, p).fetchone() for p in (resolution, resolution.previous)]
    figures = (
        *_service_figures(service, threshold, measures),
        *_resolution_figures(outcomes, resolution, measures),
    )
    days = query(con, SERVICE_DAYS_SQL, period.with_previous, threshold_s=threshold).df()
    days["service_level"] = (days["answered_within"] / days["offered"]).where(days["offered"] > 0)
    return Quality(threshold, resolution, figures, days)


def resolution_period(con: duckdb.DuckDBPyConnection, period: Period) -> Period:
    """The report period moved back by whole days until none of its UTC days has a session
    whose recontact window is still open: a session counts in the rates only once mature,
    so a day that is partly mature would show the rate of its early-ending sessions only.
    With the default 7-day window and period this is the 7 days before the report period."""
    first_open: date | None = con.execute(FIRST_OPEN_DAY_SQL).fetchone()[0]
    last_day = period.utc_days[1]
    return period if first_open is None or first_open > last_day else period.earlier((last_day - first_open).days + 1)


def _threshold(con: duckdb.DuckDBPyConnection, measures: Measures) -> int | None:
    """The configured headline threshold when the mart has it, else its smallest."""
    present = [t for (t,) in con.execute(THRESHOLDS_SQL).fetchall()]
    if measures.service_level_threshold_s in present or not present:
        return measures.service_level_threshold_s
    return present[0]


def _service(con: duckdb.DuckDBPyConnection, period: Period, threshold: int | None) -> tuple:
    return query(con, SERVICE_SQL, period, threshold_s=threshold).fetchone()


def threshold_text(seconds: int | None) -> str:
    """60 → '1 min', 90 → '90 s'."""
    if seconds is None:
        return "the threshold"
    return f"{seconds // 60} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds} s"


def _service_figures(values: list[tuple], threshold: int | None, measures: Measures) -> tuple[Figure, ...]:
    (level, abandon), (previous_level, previous_abandon) = values
    within = threshold_text(threshold)
    return (
        Figure("service_level", f"Service level (answered within {within})", "share", level, previous_level, True,
               f"share of the queue visits offered to an agent (answered, or abandoned after "
               f"{measures.short_abandon_s:g} s or more) answered within {within}; visits that began on the "
               "period's UTC days"),
        Figure("abandon_rate", "Abandoned in the queue", "share", abandon, previous_abandon, False,
               "of the same queue visits, the share the customer left (or that expired) before an agent answered"),
    )


def _resolution_figures(values: list[tuple], resolution: Period, measures: Measures) -> tuple[Figure, ...]:
    (mature, fcr, durable), (_, previous_fcr, previous_durable) = values
    window = f"{measures.recontact_window_days:g} day{'' if measures.recontact_window_days == 1 else 's'}"
    first, last = resolution.utc_days
    if mature:
        which = (f"of the sessions that ended {first:%a %-d %b} – {last:%a %-d %b} (UTC days), "
                 "the latest days whose recontact window has closed")
    else:
        which = "counted once that window has closed, which it has not yet for any session loaded"
    return (
        Figure("first_contact_resolution", "First-contact resolution", "share", fcr, previous_fcr, True,
               f"resolved sessions whose customer did not come back within {window}, {which}", pending=not mature),
        Figure("durable_containment", "Durable containment", "share", durable, previous_durable, True,
               f"bot-contained sessions whose customer did not come back within {window}, {which}",
               pending=not mature),
    )
