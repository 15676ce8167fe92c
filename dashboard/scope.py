"""The SQL every page shares: which sessions the filters select, and which
filters a panel cannot apply because its mart is not kept by them.

A session (`marts.fct_sessions as s`) is in scope when it matches each
dimension set; `team` selects the sessions that team took part in (a row of
`fct_agent_sessions`: an assignment, the resolution or a reply). Unset
dimensions are bound as NULL, so one constant text serves every combination.
"""

from __future__ import annotations

from dashboard.filters import DIMENSIONS, Filters


def _dimensions(alias: str) -> str:
    """The channel, department and query nature conditions on a table `alias` that has those columns."""
    return " and ".join(f"(${name} is null or {alias}.{name} = ${name})"
                        for name in ("channel", "department", "query_nature"))


SESSION_DIMENSIONS = _dimensions("s")
SESSION_SCOPE = f"""(
    {SESSION_DIMENSIONS}
    and ($team is null or exists (
        select 1 from marts.fct_agent_sessions as took_part
        where took_part.session_id = s.session_id and took_part.team = $team
    ))
)"""

# Sessions counted in the period by the UTC day they started, or ended.
STARTED_IN_PERIOD = "s.started_at::date between $first_day and $last_day"
ENDED_IN_PERIOD = "s.ended_at::date between $first_day and $last_day"

# Rows of fct_agent_sessions (as a) in scope: the session's start and dimensions, which the rows repeat, and
# their own team.
AGENT_SCOPE = f"""(
    a.started_at::date between $first_day and $last_day
    and {_dimensions("a")}
    and ($team is null or a.team = $team)
)"""

# Options of the filter form: the values present in the snapshot.
OPTIONS_SQL = {
    "channel": "select distinct channel from marts.fct_sessions where channel is not null order by 1",
    "department": "select distinct department from marts.fct_sessions where department is not null order by 1",
    "query_nature": "select distinct query_nature from marts.fct_sessions where query_nature is not null order by 1",
    "team": """select team from marts.fct_agent_sessions union select team from marts.mart_service_level
               order by 1""",
}


def not_applied(filters: Filters, applies: tuple[str, ...], grain: str) -> str | None:
    """A sentence naming the filters set that a panel kept per `grain` cannot apply, or None."""
    missing = [label for name, label in DIMENSIONS.items() if name not in applies and getattr(filters, name)]
    if not missing:
        return None
    return f"Not filtered by {' or '.join(missing)}: this is kept per {grain}."
