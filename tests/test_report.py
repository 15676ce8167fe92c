"""The stakeholder report on a warehouse built by the real pipeline, mailed to a real SMTP server."""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
import logging
import re
import secrets
import shutil
import statistics
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from ingestion.settings import Settings
from ingestion.simulator import simulate, write_ndjson
from orchestration.defs.report import REPORT_JOB, REPORT_KEY, build_report_assets
from orchestration.defs.report.deliver import SmtpSettings, send_report
from orchestration.defs.report.marts import EXTRACTS
from orchestration.defs.report.render import CHARTS, content_id, render_report
from tests.collector_server import free_port
from tests.conftest import run_journey

DAY = date(2026, 11, 9)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HASH_KEY = secrets.token_hex(32)
PASSWORD = "s3cret-" + secrets.token_hex(8)
# The loopback server takes AUTH without TLS, which aiosmtpd rightly warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(scope="module")
def sim():
    return simulate(days=2, sessions_per_day=60, seed=21)


@pytest.fixture(scope="module")
def warehouse(sim, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("report_home")
    write_ndjson(sim.events, home / "events.ndjson")
    run_journey(home, HASH_KEY, "import", str(home / "events.ndjson"))
    run_journey(home, HASH_KEY, "run")
    return Settings.from_env({"JOURNEY_HOME": str(home)}).warehouse


@pytest.fixture(scope="module")
def report(warehouse, tmp_path_factory):
    return render_report(warehouse, tmp_path_factory.mktemp("reports"), day=DAY)


class Inbox:
    """aiosmtpd handler: keeps every envelope and every login it accepted."""

    def __init__(self):
        self.envelopes = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password.decode() == PASSWORD)


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=inbox.authenticate,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    try:
        yield inbox, SmtpSettings(host="127.0.0.1", port=controller.port, user="reporter", password=PASSWORD,
                                  sender="journey@example.org", recipients=("ops@example.org", "cx@example.org"))
    finally:
        controller.stop()


def test_files_land_in_the_dated_folder(report):
    folder = report.folder
    assert folder.name == "2026-11-09" and report.html == folder / "report.html"
    assert {p.name for p in report.images} == {f"{c.name}.png" for c in CHARTS}
    assert {p.name for p in report.csvs} == {f"{name}.csv" for name in EXTRACTS}
    assert all(p.parent == folder and p.is_file() for p in (report.html, *report.images, *report.csvs))


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


def test_csv_extracts_hold_every_mart_row(report, warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for csv in report.csvs:
            rows = con.sql(f"select count(*) from marts.{csv.stem}").fetchall()[0][0]
            assert rows > 0
            assert len(csv.read_text().splitlines()) == rows + 1  # one header line


def test_headline_equals_the_simulators_ground_truth(report, sim):
    truth = sim.sessions
    h = report.headline
    assert h.sessions == len(truth)
    assert h.resolved_share == pytest.approx(sum(s["final_state"] == "resolved" for s in truth) / len(truth))
    assert h.bot_containment == pytest.approx(sum(s["bot_contained"] for s in truth) / len(truth))
    for field in ("first_queue_wait_s", "agent_first_response_s"):
        values = [s[field] for s in truth if s[field] is not None]
        assert getattr(h, f"median_{field}") == pytest.approx(statistics.median(values))
    ghosts = sim.marts["mart_ghost_rate"]
    assert h.ghost_rate == pytest.approx(sum(r["unlinked_events"] for r in ghosts)
                                         / sum(r["webview_events"] for r in ghosts))
    # The page says it in words, with the period and the time zone.
    first = min(s["started_at"] for s in truth).astimezone(timezone.utc)
    page = report.html.read_text()
    assert f"{len(truth):,} customer sessions started from {first:%a %-d %b %Y %H:%M}" in page
    assert "(UTC)" in page and "Times are in UTC" in page
    assert f"{100 * h.resolved_share:.1f} %) were resolved" in page
    assert report.subject.startswith("Customer journey report, Monday 9 November 2026")


def _copy_with(warehouse: Path, tmp_path: Path, *statements: str) -> Path:
    """A writable copy of the built warehouse, changed to the state a test needs."""
    copy = tmp_path / "edited.duckdb"
    shutil.copy(warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        for statement in statements:
            con.execute(statement)
    return copy


def test_empty_marts_give_sentences_instead_of_charts(warehouse, tmp_path):
    tables = ["marts.fct_sessions", "intermediate.int_agent_responses__paired",
              *(f"marts.{name}" for name in EXTRACTS)]
    empty = _copy_with(warehouse, tmp_path, *(f"delete from {t}" for t in tables))
    files = render_report(empty, tmp_path / "out", day=DAY)
    page = files.html.read_text()
    assert files.images == () and "<img" not in page
    for chart in CHARTS:
        assert chart.when_empty in page
    assert "No customer session has been recorded yet" in page
    assert "no sessions yet" in page and "0 sessions, n/a resolved" in files.subject


def test_null_medians_are_explained_not_plotted(warehouse, tmp_path):
    edited = _copy_with(
        warehouse, tmp_path,
        "update marts.fct_sessions set first_queue_wait_s = null, agent_first_response_s = null",
        "update marts.mart_queue_dynamics set median_unassigned_s = null, p90_unassigned_s = null "
        "where team = 'billing'",
        "update marts.mart_friction set dropoff_rate = null, median_time_on_step_s = null",
        "delete from marts.mart_ghost_rate",
    )
    files = render_report(edited, tmp_path / "out", day=DAY)
    page = files.html.read_text()
    assert "there is no queue wait" in page and "no agent response time" in page
    assert "there is no ghost rate" in page
    assert len(files.images) == len(CHARTS)  # the other teams' waits and the funnels still draw
    assert "nan" not in files.text.lower()


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
    for csv in report.csvs:
        assert attached[csv.name] == csv.read_text()
    assert message.get_body(("plain",)).get_content().splitlines() == report.text.splitlines()


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


def test_report_asset_materializes_and_mails_through_dagster(warehouse, smtp_server, tmp_path, monkeypatch):
    inbox, smtp = smtp_server
    for name, value in {"JOURNEY_SMTP_HOST": smtp.host, "JOURNEY_SMTP_PORT": str(smtp.port),
                        "JOURNEY_SMTP_USER": smtp.user, "JOURNEY_SMTP_PASSWORD": smtp.password,
                        "JOURNEY_REPORT_FROM": smtp.sender, "JOURNEY_REPORT_TO": ",".join(smtp.recipients)}.items():
        monkeypatch.setenv(name, value)
    settings = dataclasses.replace(Settings.from_env({"JOURNEY_WAREHOUSE": str(warehouse)}),
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
    assert report.group_name == "reports" and report.pools == {"duckdb"}
    assert {dg.AssetKey(["marts", "fct_sessions"]), dg.AssetKey(["marts", "mart_friction"])} <= report.parent_keys
    assert report.parent_keys <= graph.get_all_asset_keys()  # every dependency is a real dbt asset
    nodes = {job: {n.name for n in defs.resolve_job_def(job).graph.node_defs}
             for job in (REPORT_JOB, LOAD_AND_TRANSFORM)}
    # The report plus the GX checks of the marts it reads, which block it when one fails.
    assert nodes[REPORT_JOB] == {"reports__stakeholder_report"} | {
        f"marts__{key.path[-1]}_gx_{key.path[-1]}" for key in report.parent_keys if key.path[0] == "marts"}
    assert "reports__stakeholder_report" not in nodes[LOAD_AND_TRANSFORM]
    schedule = defs.resolve_schedule_def("daily_stakeholder_report")
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == ("0 6 * * *", "UTC", REPORT_JOB)
