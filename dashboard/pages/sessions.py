"""Drill-down: the sessions behind a number, as a list (its first rows) or CSV
(every row, every column of fct_sessions), each linking to its timeline.

What a list holds is one of `DRILLS`, chosen by a query parameter, always on
top of the page filters (a session in scope, docs in dashboard/scope.py):

- all sessions that started in the period;
- `cell=W-H`: those that started in that weekday (1 = Monday) and hour of the
  reporting time zone, the heatmap's cell;
- `agent=ID`: those the agent took part in (with `team`, with that team);
- `queue=TEAM`: those with a queue visit that began in the period that TEAM
  handled (for `unassigned`: that no team was assigned). The marts do not keep
  which team each queue visit is credited to (the queue mart's rule uses
  events), so this is the closest the snapshot can tell;
- `webview=1`: those that opened the self-service webview. The marts keep no
  funnel event, so a funnel's sessions cannot be told from another's.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from dashboard.filters import BadFilter, Filters
from dashboard.scope import SESSION_SCOPE, STARTED_IN_PERIOD
from dashboard.snapshot import Visit

SHOWN = 500  # rows on the page; the CSV has them all

LOCAL_STARTED = "((s.started_at at time zone 'UTC') at time zone $timezone)"
HANDLED_BY = """exists (
    select 1 from marts.fct_agent_sessions as held
    where held.session_id = s.session_id and held.handled and held.team = $queue
)"""
HANDLED = "exists (select 1 from marts.fct_agent_sessions as held where held.session_id = s.session_id and held.handled)"

DRILL_CONDITIONS = {
    "all": STARTED_IN_PERIOD,
    "cell": f"{STARTED_IN_PERIOD} and isodow({LOCAL_STARTED}) = $iso_weekday and hour({LOCAL_STARTED}) = $hour",
    "agent": f"""{STARTED_IN_PERIOD} and exists (
        select 1 from marts.fct_agent_sessions as a
        where a.session_id = s.session_id and a.agent_id = $agent and ($team is null or a.team = $team)
    )""",
    "queue": f"""exists (
        select 1 from marts.fct_state_transitions as v
        where v.session_id = s.session_id and v.state = 'pending_agent'
            and v.entered_at::date between $first_day and $last_day
    ) and (case when $queue = 'unassigned' then not {HANDLED} else {HANDLED_BY} end)""",
    "webview": f"{STARTED_IN_PERIOD} and s.webview_opened",
}

DRILLS = {kind: f"""
select s.*
from marts.fct_sessions as s
where {condition} and {SESSION_SCOPE}
order by s.started_at, s.session_id
""" for kind, condition in DRILL_CONDITIONS.items()}

QUEUE_VISITS_SQL = """
select coalesce(sum(queued), 0) as queued
from marts.mart_queue_dynamics
where day between $first_day and $last_day and team = $queue
"""


@dataclass(frozen=True)
class Drill:
    kind: str
    params: dict

    @classmethod
    def parse(cls, query) -> Drill:
        given = [kind for kind in ("cell", "agent", "queue", "webview") if query.get(kind)]
        if len(given) > 1:
            raise BadFilter(f"one drill-down at a time, not {' and '.join(given)}")
        kind = given[0] if given else "all"
        if kind == "cell":
            return cls(kind, _cell(query["cell"]))
        if kind in ("agent", "queue"):
            return cls(kind, {kind: query[kind][:200]})
        return cls(kind, {})

    @property
    def query(self) -> dict:
        """The drill's own query parameters, for links to it."""
        if self.kind == "cell":
            return {"cell": f"{self.params['iso_weekday']}-{self.params['hour']}"}
        return {"webview": 1} if self.kind == "webview" else dict(self.params)


def sessions(visit: Visit, filters: Filters, drill: Drill, timezone: str) -> dict:
    names, rows = session_table(visit, filters, drill, timezone)
    queued = (visit.row(QUEUE_VISITS_SQL, {**filters.params(), **drill.params})["queued"]
              if drill.kind == "queue" else None)
    return {"rows": [dict(zip(names, row)) for row in rows[:SHOWN]], "total": len(rows), "shown": SHOWN,
            "drill": drill, "queued": queued, "timezone": timezone,
            "csv_link": filters.link("/sessions.csv", **drill.query)}


def session_table(visit: Visit, filters: Filters, drill: Drill, timezone: str) -> tuple[list[str], list[tuple]]:
    """Every column of fct_sessions for the drill's sessions, by start."""
    return visit.table(DRILLS[drill.kind], {**filters.params(), **drill.params, "timezone": timezone})


def to_csv(names: list[str], rows: list[tuple]) -> str:
    """A header and every row; text a spreadsheet would run as a formula gets a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([_cell_text(value) for value in row] for row in rows)
    return out.getvalue()


def _cell_text(value) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _cell(text: str) -> dict:
    try:
        weekday, hour = (int(part) for part in text.split("-"))
    except ValueError:
        raise BadFilter(f"cell: {text[:20]!r} is not WEEKDAY-HOUR (1-7, 0-23)") from None
    if not (1 <= weekday <= 7 and 0 <= hour <= 23):
        raise BadFilter(f"cell: {text[:20]!r} is not WEEKDAY-HOUR (1-7, 0-23)")
    return {"iso_weekday": weekday, "hour": hour}
