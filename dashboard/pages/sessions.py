"""Drill-down: the sessions behind a number, as a list (its first rows) or CSV
(every row, every column of fct_sessions), each linking to its timeline.

What a list holds is one of `DRILLS`, chosen by a query parameter, always on
top of the page filters (a session in scope, docs in dashboard/scope.py):

- all sessions that started in the period;
- `cell=W-H`: those that started in that weekday (1 = Monday) and hour of the
  reporting time zone, the heatmap's cell;
- `agent=ID`: those the agent took part in (with `team`, with that team);
- `queue=TEAM`: those with a queue (pending_agent) visit that began in the
  period and that the queue measures credit to TEAM (docs/contract.md §6.1.7:
  the team of the assignment that ended the visit, else the session's latest
  transfer target at or before it, else `unassigned`; fct_queue_visits holds
  it), so the visits listed are the ones the service page counts;
- `funnel=F&outcome=O`: those that started funnel F in the period (the UTC day
  of their first step view, as mart_funnel_conversion counts them) and
  `started`, `completed`, `escalated` or `abandoned` it;
- `funnel=F&step=N&outcome=O`: those that started in the period and
  `reached`, `advanced` from, `dropped` off at or `escalated` at step N of F
  (mart_friction's definitions, docs/contract.md §6.1.4).

The funnel lists use the SQL of the self-service page (dashboard/funnels.py).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from dashboard import funnels
from dashboard.filters import BadFilter, Filters
from dashboard.scope import SESSION_SCOPE, STARTED_IN_PERIOD, dimensions
from dashboard.snapshot import Visit

SHOWN = 500  # rows on the page; the CSV has them all
FORMULA = r"^[=+\-@\t\r]"  # how text a spreadsheet would run as a formula starts

LOCAL_STARTED = "((s.started_at at time zone 'UTC') at time zone $timezone)"

# §6.1.7: the queue visits that began in the period, credited to team $queue (fct_queue_visits states the team).
CREDITED_VISITS = "select q.session_id from marts.fct_queue_visits as q " \
                  "where q.day between $first_day and $last_day and q.team = $queue"

IN_SCOPE = f"select s.session_id from marts.fct_sessions as s where {SESSION_SCOPE}"
STARTED_IN_SCOPE = f"select s.session_id from marts.fct_sessions as s where {STARTED_IN_PERIOD} and {SESSION_SCOPE}"

# kind: (CTEs, the condition on `s`)
DRILL_CONDITIONS = {
    "all": ("", STARTED_IN_PERIOD),
    "cell": ("", f"{STARTED_IN_PERIOD} and isodow({LOCAL_STARTED}) = $iso_weekday and hour({LOCAL_STARTED}) = $hour"),
    "agent": ("", f"""{STARTED_IN_PERIOD} and exists (
        select 1 from marts.fct_agent_sessions as a
        where a.session_id = s.session_id and a.agent_id = $agent and ($team is null or a.team = $team)
    )"""),
    "queue": ("", f"s.session_id in ({CREDITED_VISITS})"),
    "funnel": (f"with {funnels.funnel_events(IN_SCOPE)}, {funnels.FUNNEL_OUTCOMES}",
               f"s.session_id in (select o.session_id from funnel_outcomes as o where {funnels.CONVERSION_CONDITION})"),
    "step": (f"with {funnels.funnel_events(STARTED_IN_SCOPE)}, {funnels.STEP_OUTCOMES}",
             f"""s.session_id in (select o.session_id from step_outcomes as o
             where o.step_index = $step and {funnels.STEP_CONDITION})"""),
}


def _drill(ctes: str, condition: str, extra: str = "", limit: str = "") -> str:
    return f"""
{ctes}
select s.*{extra}
from marts.fct_sessions as s
where {condition} and {SESSION_SCOPE}
order by s.started_at, s.session_id
{limit}"""


DRILLS = {kind: _drill(ctes, condition) for kind, (ctes, condition) in DRILL_CONDITIONS.items()}
# The page's list: its first SHOWN rows, each with the number of all (`matching`), so a long period
# does not fetch every row to count them.
LISTS = {kind: _drill(ctes, condition, ", count(*) over () as matching", f"limit {SHOWN}")
         for kind, (ctes, condition) in DRILL_CONDITIONS.items()}

# The drill's queue visits (of the sessions in scope) beside all the team's visits of the slice, which
# differ only when a team filter keeps the sessions that team took part in.
QUEUE_VISITS_SQL = f"""
select
    count(*) filter (where q.session_id in ({IN_SCOPE})) as listed,
    count(*) as queued
from marts.fct_queue_visits as q
where q.day between $first_day and $last_day and q.team = $queue and {dimensions("q")}
"""

OUTCOMES = {"funnel": funnels.CONVERSION_OUTCOMES, "step": funnels.STEP_OUTCOMES_SHOWN}


@dataclass(frozen=True)
class Drill:
    kind: str
    params: dict

    @classmethod
    def parse(cls, query) -> Drill:
        given = [kind for kind in ("cell", "agent", "queue", "funnel") if query.get(kind)]
        if len(given) > 1:
            raise BadFilter(f"one drill-down at a time, not {' and '.join(given)}")
        kind = given[0] if given else "all"
        if kind == "cell":
            return cls(kind, _cell(query["cell"]))
        if kind in ("agent", "queue"):
            return cls(kind, {kind: query[kind][:200]})
        if kind == "funnel":
            kind = "step" if query.get("step") else "funnel"
            outcome = query.get("outcome") or OUTCOMES[kind][0]
            if outcome not in OUTCOMES[kind]:
                raise BadFilter(f"outcome: {outcome[:20]!r} is not one of {', '.join(OUTCOMES[kind])}")
            params = {"funnel": query["funnel"][:200], "outcome": outcome}
            return cls(kind, {**params, "step": _step(query["step"])} if kind == "step" else params)
        return cls(kind, {})

    @property
    def query(self) -> dict:
        """The drill's own query parameters, for links to it."""
        if self.kind == "cell":
            return {"cell": f"{self.params['iso_weekday']}-{self.params['hour']}"}
        return dict(self.params)


def sessions(visit: Visit, filters: Filters, drill: Drill, timezone: str) -> dict:
    rows = visit.rows(LISTS[drill.kind], _params(filters, drill, timezone))
    queue = (visit.row(QUEUE_VISITS_SQL, {**filters.params(), **drill.params})
             if drill.kind == "queue" else None)
    return {"rows": rows, "total": rows[0]["matching"] if rows else 0, "shown": SHOWN,
            "drill": drill, "queue": queue, "timezone": timezone,
            "csv_link": filters.link("/sessions.csv", **drill.query)}


def session_table(visit: Visit, filters: Filters, drill: Drill, timezone: str) -> pa.Table:
    """Every column of fct_sessions for the drill's sessions, by start, as an Arrow table: a long
    period's tens of thousands of rows go to CSV without a Python object per value."""
    return visit.arrow(DRILLS[drill.kind], _params(filters, drill, timezone))


def _params(filters: Filters, drill: Drill, timezone: str) -> dict:
    return {"funnel": None, **filters.params(), **drill.params, "timezone": timezone}


def to_csv(table: pa.Table) -> bytes:
    """A header and every row (text quoted, nulls empty, booleans true/false); text a spreadsheet
    would run as a formula gets a leading apostrophe."""
    for index, column in enumerate(table.schema):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            values = table.column(index)
            risky = pc.match_substring_regex(values, FORMULA)
            table = table.set_column(index, column, pc.if_else(risky, pc.binary_join_element_wise("'", values, ""),
                                                               values))
    out = io.BytesIO()
    pa_csv.write_csv(table, out)
    return out.getvalue()


def _cell(text: str) -> dict:
    try:
        weekday, hour = (int(part) for part in text.split("-"))
    except ValueError:
        raise BadFilter(f"cell: {text[:20]!r} is not WEEKDAY-HOUR (1-7, 0-23)") from None
    if not (1 <= weekday <= 7 and 0 <= hour <= 23):
        raise BadFilter(f"cell: {text[:20]!r} is not WEEKDAY-HOUR (1-7, 0-23)")
    return {"iso_weekday": weekday, "hour": hour}


def _step(text: str) -> int:
    try:
        step = int(text)
    except ValueError:
        raise BadFilter(f"step: {text[:20]!r} is not a step number") from None
    if not 1 <= step <= 10_000:
        raise BadFilter(f"step: {text[:20]!r} is not a step number")
    return step
