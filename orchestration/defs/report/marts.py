"""Everything the report reads from the warehouse, in one read-only visit.

DuckDB admits one read-write process per file; a read-only connection never
blocks a load for longer than the read itself, and cannot change anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

# The marts extracted to CSV beside the report, each ordered by its grain.
EXTRACTS = {
    "mart_operational_heatmap": "iso_weekday, hour",
    "mart_friction": "funnel, step_index",
    "mart_agent_performance": "team, agent_id, department, query_nature",
    "mart_queue_dynamics": "day, team",
    "mart_ghost_rate": "day",
}

# Exact medians over sessions (not over mart rows), so the headline never averages medians.
HEADLINE_SQL = """
select
    count(*) as sessions,
    count(*) filter (where final_state = 'resolved') as resolved,
    count(*) filter (where final_state = 'expired') as expired,
    count(*) filter (where final_state = 'open') as still_open,
    count(*) filter (where bot_contained) as bot_contained,
    count(*) filter (where escalated) as escalated,
    median(first_queue_wait_s) as median_first_queue_wait_s,
    count(first_queue_wait_s) as queue_waits,
    median(agent_first_response_s) as median_agent_first_response_s,
    count(agent_first_response_s) as agent_first_responses,
    min(started_at) as first_started_at,
    max(started_at) as last_started_at,
    (select sum(unlinked_events) from marts.mart_ghost_rate) as unlinked_webview_events,
    (select sum(webview_events) from marts.mart_ghost_rate) as webview_events
from marts.fct_sessions
"""


@dataclass(frozen=True)
class Headline:
    sessions: int
    resolved: int
    expired: int
    still_open: int
    bot_contained: int
    escalated: int
    median_first_queue_wait_s: float | None
    queue_waits: int
    median_agent_first_response_s: float | None
    agent_first_responses: int
    first_started_at: datetime | None   # naive UTC, as the marts store it
    last_started_at: datetime | None
    unlinked_webview_events: int | None
    webview_events: int | None

    @property
    def resolved_share(self) -> float | None:
        return self.resolved / self.sessions if self.sessions else None

    @property
    def bot_containment(self) -> float | None:
        return self.bot_contained / self.sessions if self.sessions else None

    @property
    def ghost_rate(self) -> float | None:
        return self.unlinked_webview_events / self.webview_events if self.webview_events else None


@dataclass(frozen=True)
class ReportData:
    headline: Headline
    marts: dict[str, pd.DataFrame]   # EXTRACTS name -> the whole mart
    responses: pd.DataFrame          # team, response_s: one row per agent reply sample


def read_report_data(warehouse: Path) -> ReportData:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.sql(HEADLINE_SQL)
        headline = Headline(**dict(zip(row.columns, row.fetchall()[0])))
        marts = {name: con.sql(f"select * from marts.{name} order by {order}").df()
                 for name, order in EXTRACTS.items()}
        responses = con.sql("select team, response_s from intermediate.int_agent_responses__paired "
                            "order by team").df()
    return ReportData(headline, marts, responses)
