"""Overview: the headline KPIs of the period, each against the previous period of
equal length, and the daily volume by channel.

Sessions, resolved share and bot containment count the sessions that started
in the period; first-contact resolution and durable containment the sessions
that ended in it and are mature (their recontact window has closed, so
`recontacted` is no longer null: docs/contract.md §6.2.1), as
mart_resolution_quality counts them; service level and abandon rate count the
queue visits in scope (fct_queue_visits) of the period's UTC days at one
threshold, as mart_service_level does.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard import charts
from dashboard.filters import Filters
from dashboard.pages.quality import resolution
from dashboard.scope import OPTIONS_SQL, QUEUE_COUNTS, QUEUE_SCOPE, SESSION_SCOPE, STARTED_IN_PERIOD
from dashboard.snapshot import Visit

SESSION_KPIS_SQL = f"""
select
    count(*) as sessions,
    avg(case when s.final_state = 'resolved' then 1.0 else 0.0 end) as resolved_share,
    avg(case when s.bot_contained then 1.0 else 0.0 end) as bot_containment
from marts.fct_sessions as s
where {STARTED_IN_PERIOD} and {SESSION_SCOPE}
"""

SERVICE_KPIS_SQL = f"""
select answered_within / nullif(offered, 0) as service_level, abandoned / nullif(offered, 0) as abandon_rate
from (select {QUEUE_COUNTS} from marts.fct_queue_visits as q where {QUEUE_SCOPE})
"""

THRESHOLDS_SQL = "select distinct threshold_s from marts.mart_service_level order by threshold_s"

VOLUME_SQL = f"""
select s.started_at::date as day, coalesce(s.channel, 'unknown') as channel, count(*) as sessions
from marts.fct_sessions as s
where {STARTED_IN_PERIOD} and {SESSION_SCOPE}
group by all
order by channel, day
"""


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    unit: str                     # count, share, seconds or score (dashboard.format.UNITS)
    current: float | None
    previous: float | None
    higher_is_better: bool | None
    hint: str
    pending: bool = False         # not measurable yet: no mature session in the period

    @property
    def trend(self) -> str:
        """'good', 'bad' or '' for the colour of the change."""
        if self.current is None or self.previous is None or self.higher_is_better is None:
            return ""
        if self.current == self.previous:
            return ""
        return "good" if (self.current > self.previous) == self.higher_is_better else "bad"


def threshold(visit: Visit, preferred: int | None) -> int | None:
    """The service level threshold shown: `preferred` when the mart has it, else its smallest."""
    present = visit.values(THRESHOLDS_SQL)
    return preferred if preferred in present or not present else present[0]


def overview(visit: Visit, filters: Filters, preferred_threshold: int | None) -> dict:
    limit = threshold(visit, preferred_threshold)
    now, before = (_values(visit, f, limit) for f in (filters, filters.previous()))
    pending = not now["mature_sessions"]
    window = ("known once their recontact window has closed, which it has not for any session that ended in "
              "the period" if pending else "of the sessions that ended in the period, once their recontact window closed")
    kpis = [
        Kpi("sessions", "Sessions", "count", now["sessions"], before["sessions"], None, "sessions that started"),
        Kpi("resolved_share", "Resolved", "share", now["resolved_share"], before["resolved_share"], True,
            "of the sessions that started, the share that ended resolved"),
        Kpi("bot_containment", "Bot containment", "share", now["bot_containment"], before["bot_containment"], True,
            "resolved by the bot without a human agent"),
        Kpi("service_level", f"Service level ({limit} s)", "share", now["service_level"], before["service_level"],
            True, f"queue visits offered to an agent answered within {limit} s"),
        Kpi("abandon_rate", "Abandoned in queue", "share", now["abandon_rate"], before["abandon_rate"], False,
            "offered queue visits the customer left before an agent answered"),
        Kpi("first_contact_resolution", "First-contact resolution", "share", now["first_contact_resolution"],
            before["first_contact_resolution"], True, f"resolved sessions whose customer did not come back; {window}",
            pending=pending),
        Kpi("durable_containment", "Durable containment", "share", now["durable_containment"],
            before["durable_containment"], True, f"bot-contained sessions whose customer did not come back; {window}",
            pending=pending),
    ]
    return {"kpis": kpis, "volume": _volume_chart(visit, filters), "threshold": limit}


def _values(visit: Visit, filters: Filters, limit: int | None) -> dict:
    params = {**filters.params(), "threshold_s": limit}
    _, outcomes = resolution(visit, filters)
    return {**visit.row(SESSION_KPIS_SQL, params), **visit.row(SERVICE_KPIS_SQL, params),
            "first_contact_resolution": outcomes["fcr_rate"], "durable_containment": outcomes["durable_containment_rate"],
            "mature_sessions": outcomes["mature_sessions"]}


def _volume_chart(visit: Visit, filters: Filters) -> charts.Chart:
    series: dict[str, dict] = {}
    for row in visit.rows(VOLUME_SQL, filters.params()):
        series.setdefault(row["channel"], {})[row["day"]] = row["sessions"]
    return charts.stacked_bars(filters.period.day_list, series, visit.values(OPTIONS_SQL["channel"]),
                               link=lambda day: filters.with_(start=day, end=day).link("/sessions"))
