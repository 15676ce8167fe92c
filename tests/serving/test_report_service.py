"""The report's contact-centre headline (service level, abandon rate, first-contact resolution,
durable containment) and its service-level chart, on a snapshot built with non-default §6.2
settings: each figure is recomputed here from the rows of the facts, not from the marts."""

from __future__ import annotations

import csv
import dataclasses
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from ingestion.settings import Settings
from orchestration.defs.report.make import make_report
from orchestration.defs.report.quality import Measures
from orchestration.defs.report.render import render_report
from tests.conftest import import_and_run
from tests.truth import simulate

HASH_KEY = "k" * 64
# A one-day recontact window makes the first two of three simulated days mature; the
# smallest threshold (45 s) is not the default one.
ENV = {"JOURNEY_RECONTACT_WINDOW_DAYS": "1", "JOURNEY_SERVICE_LEVEL_THRESHOLDS_S": "300,45",
       "JOURNEY_SHORT_ABANDON_S": "20"}
THRESHOLD_S, SHORT_ABANDON_S, WINDOW = 45, 20, timedelta(days=1)
KEYS = ("service_level", "abandon_rate", "first_contact_resolution", "durable_containment")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("service_home")
    import_and_run(home, HASH_KEY, simulate(days=3, sessions_per_day=50, seed=5).events, env=ENV)
    return home


@pytest.fixture(scope="module")
def service_settings(home) -> Settings:
    return Settings.from_env({**ENV, "JOURNEY_HOME": str(home)})


@pytest.fixture(scope="module")
def watermark(service_settings) -> datetime:
    with duckdb.connect(str(service_settings.serving_db), read_only=True) as con:
        return con.execute("select data_watermark from marts.publication").fetchone()[0]


def fresh(watermark: datetime) -> datetime:
    return watermark.replace(tzinfo=timezone.utc) + timedelta(hours=1)


@pytest.fixture(scope="module")
def daily(service_settings, watermark, tmp_path_factory):
    """A 1-day report: the third simulated day against the second."""
    return render_report(service_settings.serving_db, tmp_path_factory.mktemp("daily"), period_days=1,
                         now=fresh(watermark), measures=Measures(THRESHOLD_S, 1.0, SHORT_ABANDON_S))


def read_csv(report, name: str) -> list[dict]:
    with open(report.folder / f"{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def service_level(snapshot: Path, days: set[date], threshold_s: int = THRESHOLD_S) -> tuple[float, float]:
    """Service level and abandon rate of the queue visits that began on `days`, from the visit rows."""
    with duckdb.connect(str(snapshot), read_only=True) as con:
        visits = con.execute("select entered_at, dwell_s, next_state from marts.fct_state_transitions "
                             "where state = 'pending_agent'").fetchall()
    visits = [(dwell, state) for entered, dwell, state in visits if entered.date() in days]
    answered = [dwell for dwell, state in visits if state == "human_active"]
    abandoned = [dwell for dwell, state in visits if state in ("resolved", "expired") and dwell >= SHORT_ABANDON_S]
    offered = len(answered) + len(abandoned)
    assert offered, "the simulated days have queue visits"
    return sum(dwell <= threshold_s for dwell in answered) / offered, len(abandoned) / offered


def resolution(snapshot: Path, days: set[date]) -> tuple[float, float]:
    """First-contact resolution and durable containment of the sessions that ended on `days`."""
    with duckdb.connect(str(snapshot), read_only=True) as con:
        sessions = con.execute("select ended_at, final_state, bot_contained, first_contact_resolved, "
                               "durably_contained from marts.fct_sessions where ended_at is not null").fetchall()
    ended = [s for s in sessions if s[0].date() in days]
    assert ended and all(s[3] is not None for s in ended), "every session of these days is mature"
    resolved = [s[3] for s in ended if s[1] == "resolved"]
    contained = [s[4] for s in ended if s[2]]
    return sum(resolved) / len(resolved), sum(contained) / len(contained)


def test_contact_centre_headline_equals_the_facts(daily, service_settings, watermark):
    """Service level over the report's day against the day before; resolution over the latest day
    whose window has closed (the day before the watermark's day, less the window) and the one before."""
    snapshot, one_day = service_settings.serving_db, timedelta(days=1)
    queue_day, ended_day = (watermark - one_day).date(), (watermark - WINDOW).date() - one_day

    def figures(back: int) -> dict[str, float]:
        days_back = back * one_day
        return dict(zip(KEYS, (*service_level(snapshot, {queue_day - days_back}),
                               *resolution(snapshot, {ended_day - days_back}))))

    current, previous = figures(0), figures(1)
    rows = {row["figure"]: row for row in read_csv(daily, "headline")}
    for key in KEYS:
        now, before = current[key], previous[key]
        assert number(rows[key]["current_period"]) == pytest.approx(now), key
        assert number(rows[key]["previous_period"]) == pytest.approx(before), key
        assert number(rows[key]["change"]) == pytest.approx(now - before), key
        assert rows[key]["change_kind"] == "difference"
    bounds = {row["period"]: row for row in read_csv(daily, "period")}
    assert date.fromisoformat(bounds["resolution_current"]["first_utc_day"]) == ended_day
    assert date.fromisoformat(bounds["resolution_previous"]["last_utc_day"]) == ended_day - one_day


def test_the_page_words_each_figure_and_its_change(daily):
    rows = {row["figure"]: row for row in read_csv(daily, "headline")}
    page = daily.html.read_text()
    for key, label in (("service_level", "Service level (answered within 45 s)"),
                       ("first_contact_resolution", "First-contact resolution")):
        now, change = number(rows[key]["current_period"]), number(rows[key]["change"])
        card = re.search(rf"<td><div class='label'>{re.escape(label)}</div>.*?</td>", page).group(0)
        assert f"{100 * now:.1f} %" in card
        if round(abs(change) * 100, 1):
            assert f"{'▲' if change > 0 else '▼'} {round(abs(change) * 100, 1):g} pts vs previous day" in card
        line = next(line for line in daily.text.splitlines() if line.startswith(f"{label}: "))
        assert f"{100 * now:.1f} %" in line and "vs previous day" in line
    assert "not yet measurable" not in page


def test_service_level_chart_and_extracts(daily, service_settings, watermark):
    assert "service_level.png" in {image.name for image in daily.images}
    page = daily.html.read_text()
    alt = re.search(r"<img src='data:image/png;base64,[^']+' alt='(Table-like chart of the share[^']*)'", page)
    assert alt and "answered within 45 s" in alt.group(1)
    days = read_csv(daily, "service_level_days")
    assert {row["threshold_s"] for row in days} == {str(THRESHOLD_S)}
    for row in (row for row in days if row["team"] == "all teams"):
        level, _ = service_level(service_settings.serving_db, {date.fromisoformat(row["day"])})
        assert number(row["service_level"]) == pytest.approx(level)
        assert f"{day_name(row['day'])} {100 * level:.1f} % of {int(float(row['offered'])):,}" in alt.group(1)
    with duckdb.connect(str(service_settings.serving_db), read_only=True) as con:
        mart_rows = con.execute("select count(*) from marts.mart_service_level").fetchone()[0]
    assert len(read_csv(daily, "mart_service_level")) == mart_rows > 0


def day_name(text: str) -> str:
    return f"{date.fromisoformat(text):%a %-d %b}"


def test_the_headline_threshold_follows_the_settings(service_settings, watermark, tmp_path):
    """Without settings the smallest threshold in the mart; a configured one the mart has wins."""
    default = render_report(service_settings.serving_db, tmp_path / "default", now=fresh(watermark))
    wider = render_report(service_settings.serving_db, tmp_path / "wider", now=fresh(watermark),
                          measures=Measures(300))
    days = {(watermark - timedelta(days=n)).date() for n in range(1, 8)}
    for report, threshold, label in ((default, THRESHOLD_S, "45 s"), (wider, 300, "5 min")):
        row = next(r for r in read_csv(report, "headline") if r["figure"] == "service_level")
        assert row["label"] == f"Service level (answered within {label})"
        expected, _ = service_level(service_settings.serving_db, days, threshold)
        assert number(row["current_period"]) == pytest.approx(expected)


def test_journey_report_passes_the_settings_through(service_settings, watermark, tmp_path):
    """`journey report` and the daily asset both render through `make_report`."""
    settings = dataclasses.replace(service_settings, reporting_timezone="Europe/Amsterdam", reports_dir=tmp_path)
    files, delivered = make_report(settings)
    page = files.html.read_text()
    assert not delivered and "Times are in Europe/Amsterdam." in page
    local = watermark.replace(tzinfo=timezone.utc).astimezone(ZoneInfo("Europe/Amsterdam"))
    assert f"data as of {local:%a %-d %b %Y %H:%M} (Europe/Amsterdam)" in page
    assert "Service level (answered within 45 s)" in page
    assert "within 1 day, of the sessions that ended" in page and "abandoned after 20 s or more" in page
