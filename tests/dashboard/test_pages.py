"""Every page of a real `journey dashboard` over a real snapshot shows the numbers
a direct query on the snapshot's marts gives, and the filters change them as a
query with the same conditions says."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from dashboard import format as fmt
from dashboard.charts import WEEKDAYS
from tests.dashboard.html import links, rows, text
from tests.dashboard.independent import offered_and_answered_within, queue_visits, session_funnels

TEAM = "billing"


def whole(built) -> str:
    """The query string of a period covering every session."""
    return f"start={built.first_day}&end={built.last_day}"


def in_period(built) -> list:
    return [built.first_day, built.last_day]


def test_overview_headline_is_the_marts(dashboard, built):
    html = dashboard.page(f"/?{whole(built)}")
    started = "from marts.fct_sessions where started_at::date between ? and ?"
    sessions, resolved, contained = built.query(
        f"select count(*), avg((final_state = 'resolved')::int), avg(bot_contained::int) {started}", in_period(built))[0]
    level, abandon = built.query(
        "select sum(answered_within) / sum(offered), sum(abandoned - short_abandoned) / sum(offered) "
        "from marts.mart_service_level where threshold_s = 60 and day between ? and ?", in_period(built))[0]
    fcr, durable = built.query(
        "select sum(first_contact_resolved) / sum(mature_resolved), sum(durably_contained) / sum(mature_bot_contained) "
        "from marts.mart_resolution_quality where day between ? and ?", in_period(built))[0]
    assert sessions > 100 and fcr is not None and durable is not None
    assert fmt.count(sessions) in text(html, "kpi-sessions")
    assert fmt.share(resolved) in text(html, "kpi-resolved_share")
    assert fmt.share(contained) in text(html, "kpi-bot_containment")
    assert fmt.share(level) in text(html, "kpi-service_level")
    assert fmt.share(abandon) in text(html, "kpi-abandon_rate")
    assert fmt.share(fcr) in text(html, "kpi-first_contact_resolution")
    assert fmt.share(durable) in text(html, "kpi-durable_containment")
    version, watermark = built.query("select version, data_watermark from marts.publication")[0]
    assert f"Data as of {fmt.when(watermark)} UTC" in text(html, "data-as-of")
    assert f"snapshot {version}," in text(html, "data-as-of")


def test_default_period_is_the_last_week_of_data_or_all_of_a_younger_one(dashboard, built):
    days = (built.last_day - built.first_day).days + 1
    assert days < 7  # the fixture's few days: the period opens on the first of them, not on empty days
    html = dashboard.page("/")
    assert f'name="start" value="{built.first_day}"' in html and f'name="end" value="{built.last_day}"' in html
    assert f"compared with the {days} before" in html
    # A period that ends later than the data began is a full week again.
    end = built.first_day + timedelta(days=7)
    html = dashboard.page(f"/?end={end}")
    assert f'name="start" value="{end - timedelta(days=6)}"' in html and "compared with the 7 before" in html


def test_service_page_is_the_service_marts(dashboard, built):
    html = dashboard.page(f"/service?{whole(built)}")
    daily = built.query("select day, sum(answered_within) / nullif(sum(offered), 0) from marts.mart_service_level "
                        "where threshold_s = 60 group by day order by day")
    grid = rows(html, "service-grid")
    assert grid[0][0] == "All teams"
    assert [cell.split(" ")[0] + " %" for cell in grid[0][1:]] == [fmt.share(level, 0) for _, level in daily]
    queue = built.query("select day, team, queued, median_unassigned_s, p90_unassigned_s, abandoned_in_queue "
                        "from marts.mart_queue_dynamics order by day, team")
    assert [row[:6] for row in rows(html, "queue-table")] == [
        [fmt.day(d), team, fmt.count(n), fmt.seconds(median), fmt.seconds(p90), fmt.count(ended)]
        for d, team, n, median, p90, ended in queue]


def test_service_panels_follow_a_session_dimension_as_the_contract_counts(dashboard, built):
    """Filtered by channel, the service level grid and the queue table count that channel's queue visits
    by the contract's rules, read independently (tests/dashboard/independent.py); they differ from the
    unfiltered marts, so the filter did apply."""
    channel = "whatsapp"
    chosen = {sid for (sid,) in built.query("select session_id from marts.fct_sessions where channel = ?", [channel])}
    visits = [v for v in queue_visits(built) if v.session_id in chosen]
    html = dashboard.page(f"/service?{whole(built)}&channel={channel}")
    days = [built.first_day + timedelta(days=n) for n in range((built.last_day - built.first_day).days + 1)]
    shown = rows(html, "service-grid")[0]
    assert shown[0] == "All teams" and len(visits) > 20
    expected = []
    for day in days:
        offered, within, abandoned = offered_and_answered_within([v for v in visits if v.day == day], 60, 30)
        expected.append("–" if not any(v.day == day for v in visits) else f"{fmt.share(within / offered if offered else None, 0)} {fmt.share(abandoned / offered if offered else None, 0)} "
                        f"abandoned · {fmt.count(offered)} offered")
    assert [" ".join(cell.split()) for cell in shown[1:]] == expected
    counted = Counter((v.day, v.team) for v in visits)
    ended = Counter((v.day, v.team) for v in visits if v.next_state in ("resolved", "expired"))
    table = [(row[0], row[1], row[2], row[5]) for row in rows(html, "queue-table")]
    assert table == [(fmt.day(day), team, fmt.count(n), fmt.count(ended[day, team]))
                     for (day, team), n in sorted(counted.items())]
    unfiltered = built.query("select day, team, queued from marts.mart_queue_dynamics order by day, team")
    assert sorted((day, team, n) for (day, team), n in counted.items()) != unfiltered


def test_heatmap_over_every_session_is_the_heatmap_mart(dashboard, built):
    html = dashboard.page(f"/service?{whole(built)}")
    cells = built.query("select iso_weekday, hour, sessions_started, escalations, median_queue_wait_s "
                        "from marts.mart_operational_heatmap where sessions_started > 0")
    shown = text(html, "heatmap")
    for weekday, hour, started, escalations, wait in cells:
        assert (f"{WEEKDAYS[weekday - 1]} {hour:02d}:00–{hour + 1:02d}:00 · {started:,} sessions started, "
                f"{escalations:,} escalations, median queue wait {fmt.seconds(wait)}") in shown
    assert len(links(html, "heatmap")) == len(cells)


def test_self_service_page_is_the_funnel_marts(dashboard, built):
    html = dashboard.page(f"/self-service?{whole(built)}")
    funnels = built.query("select funnel, sum(sessions_started), sum(sessions_completed), sum(sessions_escalated), "
                          "sum(sessions_abandoned), sum(sessions_completed) / sum(sessions_started) "
                          "from marts.mart_funnel_conversion group by funnel order by 2 desc, funnel")
    assert [row[:6] for row in rows(html, "funnel-table")] == [
        [name, *(fmt.count(n) for n in counts), fmt.share(rate)] for name, *counts, rate in funnels]
    friction = [row for table in ("friction-" + name for (name,) in built.query(
        "select distinct funnel from marts.mart_friction order by 1")) for row in rows(html, table)]
    expected = built.query("select step_index, step, sessions_reached, sessions_advanced, dropoffs, dropoff_rate, "
                           "escalations from marts.mart_friction order by funnel, step_index")
    assert [[row[0], row[1], *row[3:7]] for row in friction] == [
        [f"{index}. {step}", fmt.count(reached), fmt.count(advanced), fmt.count(dropoffs), fmt.share(rate),
         fmt.count(escalations)] for index, step, reached, advanced, dropoffs, rate, escalations in expected]


def test_self_service_page_follows_the_period_and_every_filter(dashboard, built):
    """Worked out from the session events, the funnels follow the filters the marts are not kept by:
    here a department, against the contract's rules read independently (tests/dashboard/independent.py)."""
    department = "billing"
    chosen = {sid for (sid,) in built.query("select session_id from marts.fct_sessions where department = ?",
                                            [department])}
    html = dashboard.page(f"/self-service?{whole(built)}&department={department}")
    assert "Not filtered by" not in html
    funnels = session_funnels(built, chosen)
    shown = {row[0]: row[1:5] for row in rows(html, "funnel-table")}
    started = [f for f in funnels if f.views and built.first_day <= f.started_on <= built.last_day]
    assert shown and set(shown) == {f.funnel for f in started}
    for funnel, counts in shown.items():
        assert counts == [fmt.count(sum(f.conversion(outcome) for f in started if f.funnel == funnel))
                          for outcome in ("started", "completed", "escalated", "abandoned")], funnel
    for funnel in {f.funnel for f in funnels}:
        steps = sorted({e[2] for f in funnels if f.funnel == funnel for e in f.events if e[2] is not None})
        assert [[row[1], row[3], row[4], row[6]] for row in rows(html, f"friction-{funnel}")] == [
            [fmt.count(sum(f.step(index, outcome) for f in funnels if f.funnel == funnel))
             for outcome in ("reached", "advanced", "dropped", "escalated")] for index in steps], funnel


def test_agents_page_adds_up_as_the_agent_mart(dashboard, built):
    html = dashboard.page(f"/agents?{whole(built)}")
    expected = built.query("""
        select team, agent_id, sum(sessions_handled), sum(sessions_resolved), sum(handle_time_s)
        from marts.mart_agent_performance group by all""")
    replies = dict(((agent, team), n) for agent, team, n in built.query(
        "select agent_id, team, count(*) from marts.fct_agent_responses group by all"))
    shown = {(row[0], row[1]): row for row in rows(html, "agent-table")}
    assert len(shown) == len(expected)
    for team, agent, handled, resolved, handle_time in expected:
        row = shown[(team, agent)]
        assert row[2:5] == [fmt.count(handled), fmt.count(resolved), fmt.share(resolved / handled if handled else None)]
        assert row[6] == fmt.count(replies.get((agent, team), 0))
        assert row[8] == fmt.seconds(handle_time)


def test_quality_page_is_the_resolution_mart(dashboard, built):
    html = dashboard.page(f"/quality?start={built.first_day}&end={built.last_day}")
    expected = built.query("select day, channel, sessions_ended, mature_sessions, recontact_rate, fcr_rate, "
                           "durable_containment_rate, reopen_rate from marts.mart_resolution_quality "
                           "where day between ? and ? order by day, channel", in_period(built))
    assert rows(html, "quality-table") == [
        [fmt.day(d), channel, fmt.count(ended), fmt.count(mature),
         *([fmt.share(r) for r in rates] if mature else ["window still open"])]
        for d, channel, ended, mature, *rates in expected]
    assert any(mature for *_, mature, _, _, _, _ in expected) and not all(mature for *_, mature, _, _, _, _ in expected)


def test_filters_change_the_numbers_as_a_query_says(dashboard, built):
    base = whole(built)
    started = "select count(*) from marts.fct_sessions as s where started_at::date between ? and ?"
    for name, condition, value in [("channel", "s.channel = ?", "whatsapp"), ("department", "s.department = ?", "billing"),
                                   ("query_nature", "s.query_nature = ?", "appointment")]:
        expected = built.value(f"{started} and {condition}", [*in_period(built), value])
        assert fmt.count(expected) in text(dashboard.page(f"/?{base}&{name}={value}"), "kpi-sessions"), name
    took_part = ("exists (select 1 from marts.fct_agent_sessions as a where a.session_id = s.session_id "
                 "and a.team = ?)")
    html = dashboard.page(f"/?{base}&team={TEAM}")
    assert fmt.count(built.value(f"{started} and {took_part}", [*in_period(built), TEAM])) in text(html, "kpi-sessions")
    level = built.value("select sum(answered_within) / sum(offered) from marts.mart_service_level "
                        "where threshold_s = 60 and team = ?", [TEAM])
    assert fmt.share(level) in text(html, "kpi-service_level")

    one_day = f"start={built.last_day}&end={built.last_day}"
    assert fmt.count(built.value(started, [built.last_day, built.last_day])) in text(
        dashboard.page(f"/?{one_day}"), "kpi-sessions")
    assert {row[0] for row in rows(dashboard.page(f"/agents?{base}&team={TEAM}"), "agent-table")} == {TEAM}
    service = dashboard.page(f"/service?{base}&channel=whatsapp")
    whatsapp = built.value(f"{started} and s.channel = 'whatsapp'", in_period(built))
    assert f"{whatsapp:,} sessions of the period" in service


def test_bad_and_hostile_input_is_refused_or_harmless(dashboard):
    assert dashboard.get("/?start=yesterday").status == 400
    assert dashboard.get("/?start=2026-11-05&end=2026-11-01").status == 400
    assert dashboard.get("/service?threshold=soon").status == 400
    assert dashboard.get("/sessions?cell=9-99").status == 400
    assert dashboard.get("/sessions?cell=1-1&agent=a").status == 400
    assert dashboard.get("/sessions/no-such-session:1").status == 404
    assert dashboard.get("/sessions?funnel=x&outcome=dropped").status == 400   # a step outcome without a step
    assert dashboard.get("/sessions?funnel=x&step=two").status == 400
    assert dashboard.get("/sessions?funnel=x&queue=billing").status == 400
    assert dashboard.get("/sessions?funnel=x%27%3B--&step=1").status == 200
    hostile = dashboard.page("/?channel=x%27%20or%201%3D1%20--")
    assert "SESSIONS 0" in text(hostile, "kpi-sessions").upper()


def test_every_response_forbids_scripts_and_framing(dashboard, built):
    for path in ("/", "/service", "/self-service", "/agents", "/quality", "/sessions"):
        response = dashboard.get(f"{path}?{whole(built)}")
        assert response.status == 200
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert b"<script" not in response.body
