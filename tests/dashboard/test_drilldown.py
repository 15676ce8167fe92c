"""From a number to the sessions behind it (heatmap cell, agent, queue team-day,
webview day), their CSV, and one session's timeline."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlsplit

from dashboard import format as fmt
from tests.dashboard.html import links, rows, text
from tests.dashboard.test_pages import in_period, whole

LOCAL = "((started_at at time zone 'UTC') at time zone 'Europe/Amsterdam')"


def listed(html: str) -> list[str]:
    return [row[0] for row in rows(html, "session-table")]


def test_a_heatmap_cell_drills_down_to_its_sessions(dashboard, built):
    weekday, hour, started = built.query("select iso_weekday, hour, sessions_started from marts.mart_operational_heatmap "
                                         "order by sessions_started desc, iso_weekday, hour limit 1")[0]
    service = dashboard.page(f"/service?{whole(built)}")
    link = next(href for href in links(service, "heatmap") if f"cell={weekday}-{hour}" in href)
    html = dashboard.page(link)
    expected = [sid for (sid,) in built.query(
        f"select session_id from marts.fct_sessions where isodow({LOCAL}) = ? and hour({LOCAL}) = ? "
        "order by started_at, session_id", [weekday, hour])]
    assert text(html, "session-count") == fmt.count(started) == fmt.count(len(expected))
    assert listed(html) == expected
    assert "(Europe/Amsterdam)" in text(html, "drill-description")


def test_an_agent_drills_down_to_their_sessions(dashboard, built):
    team, agent = built.query("select team, agent_id from marts.fct_agent_sessions group by all "
                              "order by count(*) desc, agent_id limit 1")[0]
    agents = dashboard.page(f"/agents?{whole(built)}")
    row = next(r for r in rows(agents, "agent-table") if r[:2] == [team, agent])
    link = next(href for href in links(agents, "agent-table") if f"agent={agent}" in href and f"team={team}" in href)
    expected = [sid for (sid,) in built.query(
        "select s.session_id from marts.fct_sessions as s where exists (select 1 from marts.fct_agent_sessions as a "
        "where a.session_id = s.session_id and a.agent_id = ? and a.team = ?) order by s.started_at, s.session_id",
        [agent, team])]
    assert listed(dashboard.page(link)) == expected and row


def test_a_queue_team_day_drills_down_to_the_sessions_that_team_handled(dashboard, built):
    day, team, queued = built.query("select day, team, queued from marts.mart_queue_dynamics "
                                    "where team <> 'unassigned' order by queued desc, day, team limit 1")[0]
    service = dashboard.page(f"/service?{whole(built)}")
    link = next(href for href in links(service, "queue-table") if f"queue={team}" in href and f"start={day}" in href)
    html = dashboard.page(link)
    expected = [sid for (sid,) in built.query("""
        select s.session_id from marts.fct_sessions as s
        where exists (select 1 from marts.fct_state_transitions as v where v.session_id = s.session_id
                      and v.state = 'pending_agent' and v.entered_at::date = ?)
          and exists (select 1 from marts.fct_agent_sessions as a where a.session_id = s.session_id
                      and a.handled and a.team = ?)
        order by s.started_at, s.session_id""", [day, team])]
    assert listed(html) == expected and expected
    assert f"counts {queued} visits for {team}" in text(html, "drill-description")


def test_a_funnel_day_drills_down_to_the_webview_sessions_of_that_day(dashboard, built):
    page = dashboard.page(f"/self-service?{whole(built)}")
    link = next(href for href in _all_links(page) if "webview=1" in href)
    query = parse_qs(urlsplit(link).query)
    expected = [sid for (sid,) in built.query(
        "select session_id from marts.fct_sessions where webview_opened and started_at::date = ? and channel = ? "
        "order by started_at, session_id", [query["start"][0], query["channel"][0]])]
    html = dashboard.page(link)
    assert listed(html) == expected and expected
    assert "every funnel's sessions" in text(html, "drill-description")


def test_a_session_list_exports_as_csv(dashboard, built):
    html = dashboard.page(f"/sessions?{whole(built)}&channel=sms")
    response = dashboard.get(links(html, "csv-link")[0])
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=\"sessions-all-")
    exported = list(csv.DictReader(io.StringIO(response.body.decode())))
    columns = [name for (name,) in built.query(
        "select column_name from duckdb_columns() where table_name = 'fct_sessions' order by column_index")]
    expected = built.query("select session_id, final_state from marts.fct_sessions where channel = 'sms' "
                           "and started_at::date between ? and ? order by started_at, session_id", in_period(built))
    assert list(exported[0]) == columns
    assert [(row["session_id"], row["final_state"]) for row in exported] == expected
    assert listed(html) == [sid for sid, _ in expected]


def test_a_session_opens_as_its_timeline(dashboard, built):
    session_id, visits = built.query("""
        select v.session_id, count(*) from marts.fct_state_transitions as v
        where exists (select 1 from marts.fct_agent_responses as r where r.session_id = v.session_id)
        group by all order by count(*) desc, v.session_id limit 1""")[0]
    sessions = dashboard.page(f"/sessions?{whole(built)}")
    link = next(href for href in links(sessions, "session-table") if href.startswith(f"/sessions/{session_id.replace(':', '%3A')}?"))
    html = dashboard.page(link)
    expected = built.query("select visit_index, state, entered_at, exited_at, dwell_s from marts.fct_state_transitions "
                           "where session_id = ? order by visit_index", [session_id])
    assert [row[:5] for row in rows(html, "visit-table")] == [
        [str(i), state.replace("_", " "), fmt.when(entered), fmt.when(exited), fmt.seconds(dwell)]
        for i, state, entered, exited, dwell in expected]
    assert len(expected) == visits
    agents = built.query("select agent_id, team from marts.fct_agent_sessions where session_id = ? order by 1, 2",
                         [session_id])
    assert [row[:2] for row in rows(html, "agent-sessions")] == [list(a) for a in agents]
    replies = built.value("select count(*) from marts.fct_agent_responses where session_id = ?", [session_id])
    assert len(rows(html, "reply-table")) == replies
    assert html.count('class="state-') >= visits  # one bar per visit on the chart
    assert session_id in text(html, "session-facts")


def _all_links(html: str) -> list[str]:
    import re

    return [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', html)]


def test_csv_text_a_spreadsheet_would_run_is_defused():
    from dashboard.pages.sessions import to_csv

    assert to_csv(["a", "b"], []) == "a,b\n"
    assert to_csv(["a", "b", "c"], [("=HYPERLINK(1)", -1.5, None)]) == "a,b,c\n'=HYPERLINK(1),-1.5,\n"
