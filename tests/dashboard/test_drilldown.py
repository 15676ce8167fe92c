"""From a number to the sessions behind it (heatmap cell, agent, queue team-day,
funnel outcome, funnel step), their CSV, and one session's timeline: each list
is the sessions an independent reading of the contract's rules gives
(tests/dashboard/independent.py), as many as the number it came from."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlsplit

from dashboard import format as fmt
from tests.dashboard.html import links, rows, text
from tests.dashboard.independent import queue_visits, session_funnels
from tests.dashboard.test_pages import in_period, whole

LOCAL = "((started_at at time zone 'UTC') at time zone 'Europe/Amsterdam')"


def listed(html: str) -> list[str]:
    if 'id="session-table"' not in html:
        assert "No session matches." in html
        return []
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


def by_start(built, session_ids) -> list[str]:
    """The sessions in the order the lists show them."""
    order = {sid: n for n, (sid,) in enumerate(built.query(
        "select session_id from marts.fct_sessions order by started_at, session_id"))}
    return sorted(set(session_ids), key=order.__getitem__)


def test_a_queue_team_day_drills_down_to_the_sessions_of_the_visits_the_mart_counts(dashboard, built):
    visits = queue_visits(built)
    mart = built.query("select day, team, queued from marts.mart_queue_dynamics order by day, team")
    counted = {}
    for _, day, team, *_ in visits:
        counted[day, team] = counted.get((day, team), 0) + 1
    assert sorted((day, team, n) for (day, team), n in counted.items()) == mart  # the rule read right
    service = dashboard.page(f"/service?{whole(built)}")
    for day, team, queued in [row for row in mart if row[1] != "unassigned"][:3] + [
            row for row in mart if row[1] == "unassigned"][:1]:
        link = next(href for href in links(service, "queue-table")
                    if f"queue={team}" in href and f"start={day}" in href)
        html = dashboard.page(link)
        expected = by_start(built, [v.session_id for v in visits if (v.day, v.team) == (day, team)])
        assert listed(html) == expected and expected, (day, team)
        assert text(html, "queue-visits") == (f"{fmt.count(queued)} queue visit{'' if queued == 1 else 's'} of these "
                                              "sessions, as the service page counts them."), (day, team)


def test_a_funnel_number_drills_down_to_its_sessions(dashboard, built):
    page = dashboard.page(f"/self-service?{whole(built)}")
    shown = {row[0]: row[1:5] for row in rows(page, "funnel-table")}
    everyone = session_funnels(built)
    for funnel in shown:
        started = [f for f in everyone if f.funnel == funnel and f.views]
        for n, outcome in enumerate(("started", "completed", "escalated", "abandoned")):
            expected = by_start(built, [f.session_id for f in started if f.conversion(outcome)])
            link = next((href for href in links(page, "funnel-table")
                         if f"funnel={funnel}&" in href and href.endswith(f"outcome={outcome}")), None)
            if link is None:  # a 0 links nowhere
                assert shown[funnel][n] == "0" and not expected, (funnel, outcome)
                continue
            html = dashboard.page(link)
            assert listed(html) == expected, (funnel, outcome)
            assert text(html, "session-count") == shown[funnel][n] == fmt.count(len(expected)), (funnel, outcome)
    assert any(shown[funnel][2] != "0" for funnel in shown)  # escalations exist to be listed


def test_a_funnel_day_drills_down_to_the_sessions_that_started_it_then(dashboard, built):
    page = dashboard.page(f"/self-service?{whole(built)}")
    link = next(href for href in links(page, "funnel-days"))
    query = parse_qs(urlsplit(link).query)
    day, channel, funnel = query["start"][0], query["channel"][0], query["funnel"][0]
    in_channel = {sid for (sid,) in built.query("select session_id from marts.fct_sessions where channel = ?", [channel])}
    expected = by_start(built, [f.session_id for f in session_funnels(built, in_channel)
                                if f.funnel == funnel and f.views and str(f.started_on) == day])
    html = dashboard.page(link)
    assert listed(html) == expected and expected
    assert f"started the {funnel} funnel" in text(html, "drill-description")


def test_a_funnel_step_number_drills_down_to_its_sessions(dashboard, built):
    """docs/contract.md §6.1.4 for every step and outcome: the list is the sessions the rule gives, and
    as many as the step's number on the self-service page."""
    page = dashboard.page(f"/self-service?{whole(built)}")
    everyone = session_funnels(built)
    columns = {"reached": 1, "advanced": 3, "dropped": 4, "escalated": 6}
    checked = 0
    for (funnel,) in built.query("select distinct funnel from marts.mart_friction order by 1"):
        table = f"friction-{funnel}"
        for row in rows(page, table):
            index = int(row[0].split(".")[0])
            for outcome, column in columns.items():
                expected = by_start(built, [f.session_id for f in everyone if f.funnel == funnel
                                            and f.step(index, outcome)])
                link = next((href for href in links(page, table)
                             if f"step={index}&" in href and href.endswith(f"outcome={outcome}")), None)
                if link is None:  # a 0 links nowhere
                    assert row[column] == "0" and not expected, (funnel, index, outcome)
                    continue
                html = dashboard.page(link)
                assert listed(html) == expected, (funnel, index, outcome)
                assert text(html, "session-count") == row[column] == fmt.count(len(expected)), (funnel, index, outcome)
                checked += bool(expected)
    assert checked >= 20


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
    facts = text(html, "session-facts")
    assert session_id in facts and "final state" in facts
    assert "build seq" not in facts  # the stamps fct_sessions carries are not facts of the session
    assert "Not in the snapshot" not in html


def test_the_timeline_shows_every_event_of_the_session_in_order(dashboard, built):
    """Chat, webview and agents in one view: a session with funnel steps, an escalation request or a
    transfer, assignments and CSAT lists each of its events, in event order, and marks them on the chart."""
    session_id = built.value("""
        select session_id from marts.fct_session_events group by 1
        having count(*) filter (where event_type = 'funnel.step_viewed') > 0
            and count(*) filter (where event_type = 'agent.assigned') > 0
            and count(*) filter (where event_type = 'csat.submitted') > 0
        order by count(*) filter (where event_type in ('conversation.transferred', 'escalation.requested')) desc,
            count(*) desc, session_id
        limit 1""")
    events = built.query("select event_seq, occurred_at, event_type, actor_kind, actor_id, agent_id, team, from_team, "
                         "to_team, csat_score, funnel, step, step_index from marts.fct_session_events "
                         "where session_id = ? order by event_seq", [session_id])
    html = dashboard.page(f"/sessions/{session_id.replace(':', '%3A')}?{whole(built)}")
    shown = rows(html, "event-table")
    assert [(row[0], row[1]) for row in shown] == [(str(seq), fmt.when(at)) for seq, at, *_ in events]
    chart = text(html, "timeline")
    what = {row[0]: row[4] for row in shown}
    for seq, at, kind, actor_kind, actor_id, agent, team, from_team, to_team, score, funnel, step, index in events:
        line = what[str(seq)]
        if kind == "agent.assigned":
            assert line == f"Assigned to {agent} ({team})"
            assert f"{agent} · {team}" in chart or f"Assigned to {agent} ({team})" in chart
        elif kind == "conversation.transferred":
            assert line == f"Transferred from {from_team} to {to_team}"
        elif kind == "csat.submitted":
            assert line == f"CSAT {score} of 5" and f"CSAT {score} of 5" in chart
        elif kind == "funnel.step_viewed":
            assert line == f"Viewed step {index} “{step}” of {funnel}"
            assert f"Viewed step {index} “{step}” of {funnel}" in chart
        elif kind == "escalation.requested":
            assert line == f"Asked for a person at step {index} “{step}” of {funnel}"
        elif kind == "message.received":
            assert line == "Customer wrote"
        elif kind == "message.sent":
            assert line == {"bot": "Bot wrote", "human": "Agent wrote", "system": "System wrote"}[actor_kind]
    by = {row[0]: row[3] for row in shown}
    assert {by[str(seq)] for seq, _, _, actor_kind, *_ in events if actor_kind == "user"} == {"customer"}
    assert {by[str(seq)] for seq, _, _, actor_kind, actor_id, *_ in events if actor_kind == "human"} == {
        f"{actor_id} (agent)" for _, _, _, actor_kind, actor_id, *_ in events if actor_kind == "human"}
    kinds = {kind for _, _, kind, *_ in events}
    assert {"funnel.step_viewed", "agent.assigned", "csat.submitted", "message.received"} <= kinds
    assert f"{len(events)} events:" in text(html, "event-summary")


def test_csv_text_a_spreadsheet_would_run_is_defused():
    import pyarrow as pa

    from dashboard.pages.sessions import to_csv

    assert to_csv(pa.table({"a": pa.array([], pa.string())})) == b'"a"\n'
    table = pa.table({"a": ["=HYPERLINK(1)", "-2", "\tx", "plain, text", None], "b": [-1.5, 2.0, None, 0.0, 1.0],
                      "c": [True, False, None, True, False]})
    assert list(csv.reader(io.StringIO(to_csv(table).decode()))) == [
        ["a", "b", "c"], ["'=HYPERLINK(1)", "-1.5", "true"], ["'-2", "2", "false"], ["'\tx", "", ""],
        ["plain, text", "0", "true"], ["", "1", "false"]]
