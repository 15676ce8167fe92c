"""The stakeholder report on a serving snapshot published by the real pipeline, mailed to a real SMTP server."""

from __future__ import annotations

import base64
import csv
import dataclasses
import email
import email.policy
import logging
import re
import secrets
import shutil
import statistics
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest

from ingestion.settings import Settings, SmtpSettings
from orchestration.defs.report.assets import REPORT_JOB, REPORT_KEY, build_report_assets
from orchestration.defs.report.deliver import send_report
from orchestration.defs.report.marts import EXTRACTS
from orchestration.defs.report.render import CHARTS, content_id, render_report
from orchestration.defs.serving.assets import SNAPSHOT_KEY
from tests.conftest import import_and_run
from tests.support.smtp_server import PASSWORD, smtp_env
from tests.truth import simulate

DAY = date(2026, 11, 9)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HASH_KEY = secrets.token_hex(32)
CSVS = {"period", "headline", "channels", "csat", "daily_volume", "agents", "reply_times", "service_level_days",
        *EXTRACTS}
# The contact-centre figures, checked against the facts in test_report_service.py.
CONTACT_CENTRE = {"service_level", "abandon_rate", "first_contact_resolution", "durable_containment"}
# The loopback server takes AUTH without TLS, which aiosmtpd rightly warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(scope="module")
def sim():
    return simulate(days=2, sessions_per_day=60, seed=21)


@pytest.fixture(scope="module")
def home(sim, tmp_path_factory) -> Path:
    """A home where `journey run` built the warehouse and published the serving snapshot."""
    home = tmp_path_factory.mktemp("report_home")
    import_and_run(home, HASH_KEY, sim.events)
    return home


@pytest.fixture(scope="module")
def snapshot(home) -> Path:
    return Settings.from_env({"JOURNEY_HOME": str(home)}).serving_db


@pytest.fixture(scope="module")
def watermark(snapshot) -> datetime:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return con.execute("select data_watermark from marts.publication").fetchone()[0]


def fresh(watermark: datetime) -> datetime:
    """A render time an hour after the data: not stale."""
    return watermark.replace(tzinfo=timezone.utc) + timedelta(hours=1)


@pytest.fixture(scope="module")
def report(snapshot, watermark, tmp_path_factory):
    """The default 7-day report: the two simulated days, nothing before them."""
    return render_report(snapshot, tmp_path_factory.mktemp("reports"), day=DAY, now=fresh(watermark))


@pytest.fixture(scope="module")
def daily_report(snapshot, watermark, tmp_path_factory):
    """A 1-day report: the second simulated day against the first."""
    return render_report(snapshot, tmp_path_factory.mktemp("daily"), day=DAY, period_days=1, now=fresh(watermark))


def read_csv(report, name: str) -> list[dict]:
    with open(report.folder / f"{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def test_files_land_in_the_dated_folder(report):
    folder = report.folder
    assert folder.name == "2026-11-09" and report.html == folder / "report.html"
    assert {p.name for p in report.images} == {f"{c.name}.png" for c in CHARTS}
    assert {p.name for p in report.csvs} == {f"{name}.csv" for name in CSVS}
    assert all(p.parent == folder and p.is_file() for p in (report.html, *report.images, *report.csvs))
    for table in report.csvs:  # a header and at least one row
        assert len(table.read_text().splitlines()) >= 2, table.name


def test_html_embeds_each_chart_as_a_valid_png(report):
    page = report.html.read_text()
    embedded = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    assert len(embedded) == len(report.images) == len(CHARTS)
    for data, image in zip(embedded, report.images):
        png = image.read_bytes()
        assert base64.b64decode(data) == png
        assert png.startswith(PNG_SIGNATURE) and png[12:16] == b"IHDR"
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert width > 400 and height > 200


def test_mart_extracts_hold_every_mart_row(report, snapshot):
    with duckdb.connect(str(snapshot), read_only=True) as con:
        for name in EXTRACTS:
            rows = con.sql(f"select count(*) from marts.{name}").fetchall()[0][0]
            assert rows > 0
            assert len(read_csv(report, name)) == rows


def independent_headline(snapshot: Path, start: datetime, end: datetime) -> dict[str, float | None]:
    """The headline of sessions started in (start, end], queried without the report's code."""
    with duckdb.connect(str(snapshot), read_only=True) as con:
        row = con.execute("""
            select count(*), count_if(final_state = 'resolved') / count(*), count_if(bot_contained) / count(*),
                   count_if(escalated) / count(*), quantile_cont(first_queue_wait_s, 0.5),
                   quantile_cont(agent_first_response_s, 0.5), avg(csat_score)
            from marts.fct_sessions where started_at > ? and started_at <= ?""", [start, end]).fetchone()
        # mart_ghost_rate is per UTC day: the days whose noon lies in the period.
        days = [start.date() + timedelta(days=i) for i in range((end - start).days + 2)]
        days = [d for d in days if start < datetime.combine(d, datetime.min.time()) + timedelta(hours=12) <= end]
        ghost = con.execute("select sum(unlinked_events) / sum(webview_events) from marts.mart_ghost_rate "
                            "where list_contains(?, day)", [days]).fetchone()[0]
    keys = ("sessions", "resolved_share", "bot_containment", "escalated_share", "median_first_queue_wait_s",
            "median_agent_first_response_s", "avg_csat")
    return {**dict(zip(keys, row)), "ghost_rate": ghost}


def test_headline_csv_equals_a_query_on_fct_sessions(daily_report, snapshot, watermark):
    current = independent_headline(snapshot, watermark - timedelta(days=1), watermark)
    previous = independent_headline(snapshot, watermark - timedelta(days=2), watermark - timedelta(days=1))
    assert current["sessions"] and previous["sessions"], "both simulated days have sessions"
    rows = {row["figure"]: row for row in read_csv(daily_report, "headline")}
    assert set(rows) == {*current, *CONTACT_CENTRE}
    for figure, row in ((figure, rows[figure]) for figure in current):
        assert number(row["current_period"]) == pytest.approx(current[figure]), figure
        assert number(row["previous_period"]) == pytest.approx(previous[figure]), figure
        if row["change_kind"] == "relative":
            assert number(row["change"]) == pytest.approx(current[figure] / previous[figure] - 1), figure
        else:
            assert number(row["change"]) == pytest.approx(current[figure] - previous[figure]), figure
    bounds = {row["period"]: row for row in read_csv(daily_report, "period")}
    assert datetime.fromisoformat(bounds["current"]["ends_at"]) == watermark
    assert datetime.fromisoformat(bounds["previous"]["ends_at"]) == watermark - timedelta(days=1)


def test_the_page_shows_each_change_against_the_previous_period(daily_report, report):
    rows = {row["figure"]: row for row in read_csv(daily_report, "headline")}
    now, before = (int(number(rows["sessions"][column])) for column in ("current_period", "previous_period"))
    page = daily_report.html.read_text()
    card = re.search(r"<td><div class='label'>Sessions started</div>.*?</td>", page).group(0)
    assert f"<div class='value'>{now:,}</div>" in card and f"previous day: {before:,}" in card
    assert ("▲" if now > before else "▼") in card and "vs previous day" in card
    assert re.search(r"[▲▼] [0-9.]+ pts vs previous day", page), "shares change in points"
    # The 7-day report has nothing before the simulated days: it says so instead of a change.
    page = report.html.read_text()
    assert "no earlier data" in page and "vs previous 7 days" not in page


def test_resolution_figures_wait_for_the_recontact_window(report, daily_report, snapshot):
    """Two simulated days and the default 7-day window: no session is mature yet, so the page
    says so instead of a number or a change, and the CSV leaves the values empty."""
    with duckdb.connect(str(snapshot), read_only=True) as con:
        assert con.execute("select count(first_contact_resolved) from marts.fct_sessions").fetchone()[0] == 0
    for files in (report, daily_report):
        rows = {row["figure"]: row for row in read_csv(files, "headline")}
        page = files.html.read_text()
        for key, label in (("first_contact_resolution", "First-contact resolution"),
                           ("durable_containment", "Durable containment")):
            assert rows[key]["current_period"] == rows[key]["previous_period"] == rows[key]["change"] == ""
            card = re.search(rf"<td><div class='label'>{label}</div>.*?</td>", page).group(0)
            assert "not yet measurable (recontact window still open)" in card
            assert "vs previous" not in card and "n/a" not in card and "no earlier" not in card
            assert f"{label}: not yet measurable (recontact window still open) — " in files.text
    assert re.search(r"Service level \(answered within 1 min\): [0-9.]+ % \(([▲▼] [0-9.]+ pts|no change) "
                     r"vs previous day\)", daily_report.text)


def test_headline_equals_the_simulators_ground_truth(report, sim):
    truth = sim.sessions
    figures = {f.key: f.current for f in report.headline.figures}
    assert report.headline.sessions == len(truth)
    assert figures["resolved_share"] == pytest.approx(sum(s["final_state"] == "resolved" for s in truth) / len(truth))
    assert figures["bot_containment"] == pytest.approx(sum(s["bot_contained"] for s in truth) / len(truth))
    for field in ("first_queue_wait_s", "agent_first_response_s"):
        values = [s[field] for s in truth if s[field] is not None]
        assert figures[f"median_{field}"] == pytest.approx(statistics.median(values))
    daily = read_csv(report, "daily_volume")
    assert sum(int(row["sessions"]) for row in daily if row["period"] == "current") == len(truth)


def test_title_says_the_period_and_data_as_of(report, watermark):
    page = report.html.read_text()
    as_of = f"data as of {watermark:%a %-d %b %Y %H:%M} (UTC)"
    assert as_of in page and as_of in report.text.splitlines()[0]
    assert re.search(r"<title>Customer journey report: last 7 days, .*data as of", page)
    assert report.subject.startswith("Customer journey report, Wed 28 Oct – Tue 3 Nov 2026: ")
    assert f"{report.headline.sessions:,} sessions (no earlier data)" in report.subject


def test_stale_data_is_flagged_at_render_time(snapshot, watermark, tmp_path):
    stale = render_report(snapshot, tmp_path / "late", now=watermark.replace(tzinfo=timezone.utc) + timedelta(days=2))
    assert stale.stale and "class='warning'" in stale.html.read_text()
    assert "newest event loaded is 2 days old" in stale.html.read_text() and "2 days old" in stale.text
    assert stale.subject.startswith("[data out of date]")
    timely = render_report(snapshot, tmp_path / "timely", now=fresh(watermark))
    assert not timely.stale and "class='warning'" not in timely.html.read_text()


def test_agent_table_equals_a_computation_from_fct_agent_sessions(report, snapshot, watermark):
    start = watermark - timedelta(days=7)
    with duckdb.connect(str(snapshot), read_only=True) as con:
        sessions = con.execute("select team, agent_id, handled, first_response_s from marts.fct_agent_sessions "
                               "where started_at > ? and started_at <= ?", [start, watermark]).fetchall()
        replies = con.execute("""
            select r.team, r.agent_id, r.response_s from marts.fct_agent_responses r
            join marts.fct_sessions s using (session_id) where s.started_at > ? and s.started_at <= ?""",
                              [start, watermark]).fetchall()
    table = {(row["team"], row["agent_id"]): row for row in read_csv(report, "agents")}
    assert set(table) == {(team, agent) for team, agent, *_ in sessions}
    for key, row in table.items():
        firsts = [s for team, agent, _, s in sessions if (team, agent) == key and s is not None]
        assert int(row["sessions_handled"]) == sum(h for team, agent, h, _ in sessions if (team, agent) == key)
        if firsts:
            assert number(row["median_first_response_s"]) == pytest.approx(statistics.median(firsts))
            assert number(row["p90_first_response_s"]) == pytest.approx(np.percentile(firsts, 90))
        else:
            assert row["median_first_response_s"] == row["p90_first_response_s"] == ""
        samples = [s for team, agent, s in replies if (team, agent) == key]
        assert number(row["median_response_s"]) == (pytest.approx(statistics.median(samples)) if samples else None)
    assert "agent-" in report.html.read_text()


def _copy_with(source: Path, tmp_path: Path, *statements: str) -> Path:
    """A writable copy of the snapshot, changed to the state a test needs."""
    copy = tmp_path / "edited.duckdb"
    shutil.copy(source, copy)
    with duckdb.connect(str(copy)) as con:
        for statement in statements:
            con.execute(statement)
    return copy


def test_empty_marts_give_sentences_instead_of_charts(snapshot, watermark, tmp_path):
    with duckdb.connect(str(snapshot), read_only=True) as con:
        tables = [name for (name,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' and table_name != 'publication'"
        ).fetchall()]
    empty = _copy_with(snapshot, tmp_path, *(f"delete from marts.{t}" for t in tables))
    files = render_report(empty, tmp_path / "out", day=DAY, now=fresh(watermark))
    page = files.html.read_text()
    assert files.images == () and "<img" not in page
    for chart in CHARTS:
        assert chart.when_empty in page
    assert "No customer session started" in page and "nan" not in page.lower()
    assert "0 sessions (no earlier data), n/a resolved" in files.subject
    assert all(table.is_file() for table in files.csvs)


def test_null_medians_are_explained_not_plotted(snapshot, watermark, tmp_path):
    edited = _copy_with(
        snapshot, tmp_path,
        "update marts.fct_sessions set first_queue_wait_s = null, agent_first_response_s = null, csat_score = null",
        "update marts.mart_queue_dynamics set median_unassigned_s = null, p90_unassigned_s = null "
        "where team = 'billing'",
        "update marts.mart_friction set dropoff_rate = null, median_time_on_step_s = null",
        "delete from marts.mart_ghost_rate",
    )
    files = render_report(edited, tmp_path / "out", day=DAY, now=fresh(watermark))
    page = files.html.read_text()
    assert "Median first queue wait: n/a" in files.text and "Ghost rate: n/a" in files.text
    assert "No customer answered the satisfaction survey" in page
    assert len(files.images) == len(CHARTS)  # the other teams' waits and the funnels still draw
    assert "nan" not in files.text.lower() and ">nan<" not in page.lower()


def test_only_a_serving_snapshot_is_read(home, tmp_path):
    """The warehouse holds intermediate models the report must not depend on, and no publication."""
    warehouse = Settings.from_env({"JOURNEY_HOME": str(home)}).warehouse
    with pytest.raises(ValueError, match="not a serving snapshot"):
        render_report(warehouse, tmp_path)


def test_delivery_to_a_real_smtp_server(report, smtp_server, caplog):
    inbox, smtp = smtp_server
    with caplog.at_level(logging.INFO):
        assert send_report(report, smtp) is True
    assert inbox.logins == [("reporter", PASSWORD)]
    assert PASSWORD not in caplog.text and PASSWORD not in repr(smtp)
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "journey@example.org"
    assert envelope.rcpt_tos == ["ops@example.org", "cx@example.org"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == report.subject
    assert message["To"] == "ops@example.org, cx@example.org"
    html = message.get_body(("html",)).get_content()
    assert "data:image" not in html
    inline = {part["Content-ID"]: part.get_content() for part in message.walk()
              if part["Content-ID"] and part.get_content_disposition() != "attachment"}
    for image in report.images:
        assert f"cid:{content_id(image)}" in html
        assert inline[f"<{content_id(image)}>"] == image.read_bytes()
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(attached) == {p.name for p in (*report.images, *report.csvs)}
    for image in report.images:
        assert attached[image.name] == image.read_bytes()
    for table in report.csvs:
        assert attached[table.name] == table.read_text()
    text = message.get_body(("plain",)).get_content()
    assert text.splitlines() == report.text.splitlines()
    assert "Sessions started: " in text and "Average CSAT: " in text


def test_delivery_is_skipped_without_a_host(report, caplog):
    smtp = SmtpSettings.from_env({"JOURNEY_REPORT_TO": "ops@example.org"})
    with caplog.at_level(logging.INFO):
        assert send_report(report, smtp) is False
    assert "delivery skipped: JOURNEY_SMTP_HOST is not set" in caplog.text


def test_smtp_settings_from_the_environment():
    smtp = SmtpSettings.from_env({
        "JOURNEY_SMTP_HOST": "mail.example.org", "JOURNEY_SMTP_PORT": "587", "JOURNEY_SMTP_STARTTLS": "true",
        "JOURNEY_SMTP_USER": "reporter", "JOURNEY_SMTP_PASSWORD": PASSWORD,
        "JOURNEY_REPORT_FROM": "journey@example.org", "JOURNEY_REPORT_TO": " ops@example.org, cx@example.org ,",
    })
    assert (smtp.host, smtp.port, smtp.starttls) == ("mail.example.org", 587, True)
    assert smtp.recipients == ("ops@example.org", "cx@example.org")
    assert PASSWORD not in repr(smtp)
    assert SmtpSettings.from_env({}).port == 25
    with pytest.raises(ValueError, match="JOURNEY_REPORT_TO"):
        SmtpSettings.from_env({"JOURNEY_SMTP_HOST": "mail.example.org"})


def test_report_asset_materializes_and_mails_through_dagster(home, smtp_server, tmp_path):
    inbox, smtp = smtp_server
    settings = dataclasses.replace(Settings.from_env({**smtp_env(smtp), "JOURNEY_HOME": str(home)}),
                                   reports_dir=tmp_path / "reports")
    result = dg.materialize([build_report_assets(settings)], instance=dg.DagsterInstance.ephemeral())
    assert result.success
    [materialization] = result.asset_materializations_for_node("reports__stakeholder_report")
    assert materialization.asset_key == REPORT_KEY
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    today = datetime.now(timezone.utc).date().isoformat()
    assert metadata["path"] == str(tmp_path / "reports" / today / "report.html")
    assert metadata["delivered"] is True and metadata["images"] == len(CHARTS)
    assert metadata["recipients"] == "ops@example.org, cx@example.org"
    assert len(inbox.envelopes) == 1


def test_report_has_its_own_daily_job(settings):
    from orchestration.defs.build import LOAD_AND_TRANSFORM, build_definitions

    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    report = graph.get(REPORT_KEY)
    assert report.group_name == "reports"
    assert report.parent_keys == {SNAPSHOT_KEY}  # it reads the published snapshot, nothing else
    nodes = {job: {n.name for n in defs.resolve_job_def(job).graph.node_defs}
             for job in (REPORT_JOB, LOAD_AND_TRANSFORM)}
    assert nodes[REPORT_JOB] == {"reports__stakeholder_report"}
    assert "reports__stakeholder_report" not in nodes[LOAD_AND_TRANSFORM]
    schedule = defs.resolve_schedule_def("daily_stakeholder_report")
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == ("0 6 * * *", "UTC", REPORT_JOB)
