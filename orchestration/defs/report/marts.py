"""Everything the report reads from the serving snapshot, in one read-only visit.

The report reads only `marts.*` of the file it is given: the facts it slices
by period (`fct_sessions`, `fct_agent_sessions`, `fct_agent_responses`), the
aggregate marts behind its all-data charts, and `marts.publication`, whose
data watermark ends the report period. It never reads intermediate models, so
a snapshot (which holds only marts) is all it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.defs.report.model import Figure, Period, query
from orchestration.defs.report.quality import Measures, Quality, read_quality


# The marts extracted whole to CSV beside the report (the charts over all loaded data), each ordered by its grain.
EXTRACTS = {
    "mart_operational_heatmap": "iso_weekday, hour",
    "mart_friction": "funnel, step_index",
    "mart_queue_dynamics": "day, team",
    "mart_ghost_rate": "day",
    "mart_service_level": "day, team, threshold_s",
}

# Named parameters ($start, $end, $previous_start, $first_day, $last_day) are a period's bounds
# (`Period.params`, model.py): a session belongs to the period it started in, after the start and at or before the end.
CURRENT = "started_at > $start and started_at <= $end"
PREVIOUS = "started_at > $previous_start and started_at <= $start"

FIGURES_SQL = f"""
select
    count(*) as sessions,
    avg(case when final_state = 'resolved' then 1.0 else 0.0 end) as resolved_share,
    avg(case when bot_contained then 1.0 else 0.0 end) as bot_containment,
    avg(case when escalated then 1.0 else 0.0 end) as escalated_share,
    median(first_queue_wait_s) as median_first_queue_wait_s,
    median(agent_first_response_s) as median_agent_first_response_s,
    avg(csat_score) as avg_csat
from marts.fct_sessions
where {CURRENT}
"""

# mart_ghost_rate is per UTC day: a period takes the days most of which fall in it (`Period.utc_days`).
GHOST_SQL = """
select sum(unlinked_events) / nullif(sum(webview_events), 0) as ghost_rate
from marts.mart_ghost_rate
where day between $first_day and $last_day
"""

CHANNELS_SQL = f"""
select
    coalesce(channel, 'unknown') as channel,
    count(*) filter (where {CURRENT}) as sessions,
    count(*) filter (where {PREVIOUS}) as previous_sessions,
    avg(case when final_state = 'resolved' then 1.0 else 0.0 end) filter (where {CURRENT}) as resolved_share,
    avg(case when bot_contained then 1.0 else 0.0 end) filter (where {CURRENT}) as bot_containment
from marts.fct_sessions
where started_at > $previous_start and started_at <= $end
group by all
order by sessions desc, channel
"""

CSAT_SQL = f"""
select csat_score as score, count(*) as answers
from marts.fct_sessions
where {CURRENT} and csat_score is not null
group by all
"""

# 24-hour buckets counted back from the end of the current period (0 = the last 24 hours),
# over both periods, so each bar is a whole day and the current bars add up to the headline.
DAILY_SQL = """
select
    cast(floor(date_diff('millisecond', started_at, $end) / 86400000) as integer) as days_back,
    coalesce(channel, 'unknown') as channel,
    count(*) as sessions
from marts.fct_sessions
where started_at > $previous_start and started_at <= $end
group by all
"""

# Reply samples of the sessions started in the period, whichever day the reply came.
RESPONSES_SQL = """
select responses.team, responses.agent_id, responses.response_s
from marts.fct_agent_responses as responses
inner join marts.fct_sessions as sessions on responses.session_id = sessions.session_id
where sessions.started_at > $start and sessions.started_at <= $end
"""

AGENTS_SQL = f"""
with agent_sessions as (
    select * from marts.fct_agent_sessions where {CURRENT}
),

replies as (
    select team, agent_id, count(*) as replies, median(response_s) as median_response_s
    from ({RESPONSES_SQL})
    group by all
),

per_agent as (
    select
        team,
        agent_id,
        count(*) filter (where handled) as sessions_handled,
        count(*) filter (where resolved) as sessions_resolved,
        count(first_response_s) as first_responses,
        quantile_cont(first_response_s, 0.5) as median_first_response_s,
        quantile_cont(first_response_s, 0.9) as p90_first_response_s,
        sum(handle_time_s) as handle_time_s,
        count(csat_score) as csat_answers,
        avg(csat_score) as avg_csat
    from agent_sessions
    group by all
)

select
    per_agent.team,
    per_agent.agent_id,
    per_agent.sessions_handled,
    per_agent.sessions_resolved,
    per_agent.sessions_resolved / nullif(per_agent.sessions_handled, 0) as resolution_rate,
    per_agent.first_responses,
    per_agent.median_first_response_s,
    per_agent.p90_first_response_s,
    coalesce(replies.replies, 0) as replies,
    replies.median_response_s,
    per_agent.handle_time_s,
    per_agent.handle_time_s / nullif(per_agent.sessions_handled, 0) as avg_handle_time_s,
    per_agent.csat_answers,
    per_agent.avg_csat
from per_agent
left join replies on per_agent.team = replies.team and per_agent.agent_id = replies.agent_id
order by per_agent.team, per_agent.agent_id
"""

SPAN_SQL = "select min(started_at) as first_started_at, max(started_at) as last_started_at from marts.fct_sessions"


# key, label, unit, higher_is_better, hint: the headline, in the order the page shows it.
FIGURES = (
    ("sessions", "Sessions started", "count", None, "customer conversations that started"),
    ("resolved_share", "Resolved", "share", True, "sessions that ended resolved"),
    ("bot_containment", "Bot containment", "share", True, "resolved by the bot, without a human agent"),
    ("escalated_share", "Escalated to an agent", "share", False, "sessions that asked for a human agent"),
    ("median_first_queue_wait_s", "Median first queue wait", "seconds", False,
     "half of the escalated sessions waited less for an agent"),
    ("median_agent_first_response_s", "Median agent first response", "seconds", False,
     "from joining the queue to the first human reply"),
    ("avg_csat", "Average CSAT", "score", True, "customer satisfaction, 1 (poor) to 5 (great)"),
    ("ghost_rate", "Ghost rate", "share", False,
     "self-service page events that no chat link ties to a customer (on the UTC days of the period)"),
)


@dataclass(frozen=True)
class Headline:
    period: Period
    data_watermark: datetime | None   # None: no event loaded yet
    published_at: datetime
    figures: tuple[Figure, ...]       # FIGURES, then the contact-centre figures of quality.py
    resolution_period: Period         # the days first-contact resolution and durable containment cover

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)

    @property
    def sessions(self) -> int:
        return int(self.figure("sessions").current or 0)

    @property
    def has_previous(self) -> bool:
        return bool(self.figure("sessions").previous)


@dataclass(frozen=True)
class ReportData:
    headline: Headline
    channels: pd.DataFrame        # per channel: sessions in both periods, share, change, resolved, contained
    csat: pd.DataFrame            # score 1–5, answers, share (every score, 0 when none)
    daily: pd.DataFrame           # days_back, day_end, period, channel, sessions (every bucket × channel)
    agents: pd.DataFrame          # AGENTS_SQL per team × agent over the current period
    replies: pd.DataFrame         # per team: replies and the 10/25/50/75/90th percentiles of reply time
    marts: dict[str, pd.DataFrame]  # EXTRACTS name -> the whole mart
    service_levels: pd.DataFrame  # quality.SERVICE_DAYS_SQL: per UTC day of both periods, per team and all teams
    threshold_s: int | None       # the service level's threshold (None: no service-level row)
    first_started_at: datetime | None  # the span of all loaded sessions (the all-data charts)
    last_started_at: datetime | None


def read_report_data(source: Path, period_days: int = 7, measures: Measures = Measures()) -> ReportData:
    """The period is the `period_days` days ending at the snapshot's data watermark
    (its publication time when nothing is loaded yet), so a report rendered late
    still covers the latest data rather than an empty stretch of days. `measures`
    are the settings the §6.2 marts were built with."""
    with duckdb.connect(str(source), read_only=True) as con:
        watermark, published_at = _publication(con, source)
        period = Period.ending(watermark or published_at, period_days)

        def frame(sql: str) -> pd.DataFrame:
            return query(con, sql, period).df()

        first, last = con.execute(SPAN_SQL).fetchone()
        quality = read_quality(con, period, measures)
        return ReportData(
            headline=_headline(con, period, watermark, published_at, quality),
            channels=_channels(frame(CHANNELS_SQL)),
            csat=_csat(frame(CSAT_SQL)),
            daily=_daily(frame(DAILY_SQL), period),
            agents=frame(AGENTS_SQL),
            replies=_reply_percentiles(frame(RESPONSES_SQL)),
            marts={name: con.sql(f"select * from marts.{name} order by {order}").df()
                   for name, order in EXTRACTS.items()},
            first_started_at=first, last_started_at=last,
            service_levels=quality.service_days, threshold_s=quality.threshold_s,
        )


def _headline(con: duckdb.DuckDBPyConnection, period: Period, watermark: datetime | None, published_at: datetime,
              quality: Quality) -> Headline:
    figures = (*_figures(con, period), *quality.figures)
    return Headline(period, watermark, published_at, figures, quality.resolution_period)


def _publication(con: duckdb.DuckDBPyConnection, source: Path) -> tuple[datetime | None, datetime]:
    try:
        return con.execute("select data_watermark, published_at from marts.publication").fetchone()
    except duckdb.CatalogException:
        raise ValueError(f"{source} is not a serving snapshot (it has no marts.publication): "
                         "render the report from the file the pipeline publishes") from None


def _figures(con: duckdb.DuckDBPyConnection, period: Period) -> tuple[Figure, ...]:
    values = [_figure_values(con, p) for p in (period, period.previous)]
    return tuple(Figure(key, label, unit, values[0][key], values[1][key], better, hint)
                 for key, label, unit, better, hint in FIGURES)


def _figure_values(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, float | None]:
    row = query(con, FIGURES_SQL, period)
    values = dict(zip([c[0] for c in row.description], row.fetchone()))
    if not values["sessions"]:  # averages over no session are not 0 %
        values = {key: (0 if key == "sessions" else None) for key in values}
    values["ghost_rate"] = query(con, GHOST_SQL, period).fetchone()[0]
    return {key: None if value is None else int(value) if key == "sessions" else float(value)
            for key, value in values.items()}


def _channels(channels: pd.DataFrame) -> pd.DataFrame:
    """Adds each channel's share of the period's sessions and its relative change."""
    total = channels["sessions"].sum()
    return channels.assign(
        share=channels["sessions"] / total if total else None,
        change=[c / p - 1 if p else None for c, p in zip(channels["sessions"], channels["previous_sessions"])])


def _csat(answers: pd.DataFrame) -> pd.DataFrame:
    """Every score from 1 to 5, with 0 answers where nobody gave it, and its share of the answers."""
    frame = pd.DataFrame({"score": range(1, 6)}).merge(answers, on="score", how="left").fillna({"answers": 0})
    frame["answers"] = frame["answers"].astype(int)
    total = frame["answers"].sum()
    frame["share"] = frame["answers"] / total if total else None
    return frame


def _daily(counts: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Every 24-hour bucket of both periods × every channel seen, 0 where no session started."""
    channels = sorted(counts["channel"].unique())
    grid = pd.MultiIndex.from_product([range(2 * period.days), channels], names=["days_back", "channel"])
    frame = (counts.set_index(["days_back", "channel"]).reindex(grid, fill_value=0).reset_index()
             .sort_values(["days_back", "channel"], ascending=[False, True], ignore_index=True))
    frame["day_end"] = pd.to_datetime([period.end - timedelta(days=int(d)) for d in frame["days_back"]])
    frame["period"] = ["current" if d < period.days else "previous" for d in frame["days_back"]]
    frame["sessions"] = frame["sessions"].astype(int)
    return frame[["period", "days_back", "day_end", "channel", "sessions"]]


def _reply_percentiles(responses: pd.DataFrame) -> pd.DataFrame:
    """Per team, the reply count and the percentiles the reply-time chart draws (linear, as quantile_cont)."""
    rows = [{"team": team, "replies": len(samples),
             **{f"p{p}_s": samples["response_s"].quantile(p / 100) for p in (10, 25, 50, 75, 90)}}
            for team, samples in responses.groupby("team", sort=True)]
    return pd.DataFrame(rows, columns=["team", "replies", "p10_s", "p25_s", "p50_s", "p75_s", "p90_s"])
