"""Renders the stakeholder report into a dated folder: one HTML page that
stands alone (charts embedded), the same charts as PNG files, and CSV files
holding every number the page shows, so a reader can check any of them.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure as Plot

from orchestration.defs.report import charts
from orchestration.defs.report.marts import Headline, ReportData, read_report_data
from orchestration.defs.report.model import Figure
from orchestration.defs.report.quality import Measures, threshold_text
from orchestration.defs.report.wording import (
    change,
    count,
    data_as_of,
    day_label,
    duration,
    headline_sentences,
    local_time,
    missing,
    n_days,
    percent,
    period_dates,
    period_span,
    score,
    staleness,
    tone,
    value,
    versus,
)

esc = html.escape


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    draw: Callable[[ReportData, str], Plot | None]
    span: Callable[[ReportData, str], str]   # which sessions or days the chart covers
    caption: str
    when_empty: str
    alt: Callable[[ReportData], str] | None = None   # the image's alt text; None: the title


def _current(data: ReportData, zone: str) -> str:
    period = data.headline.period
    return f"Sessions started in the last {n_days(period.days)}, {period_span(period, zone)}."


def _daily_span(data: ReportData, zone: str) -> str:
    period = data.headline.period
    return (f"The last {n_days(period.days)} and the {n_days(period.days)} before. Each bar is the 24 hours up to "
            f"{local_time(period.end, zone)[-5:]} ({zone}), named after the day most of them fall on.")


def _all_loaded(data: ReportData, zone: str) -> str:
    if data.first_started_at is None:
        return "All loaded data (none yet)."
    return (f"All loaded data, not only the report period: sessions started from "
            f"{local_time(data.first_started_at, zone)} to {local_time(data.last_started_at, zone)} ({zone}).")


def _both_periods_by_utc_day(data: ReportData, zone: str) -> str:
    first, last = data.headline.period.with_previous.utc_days
    return (f"UTC days {first:%a %-d %b} to {last:%a %-d %b %Y}: the report period and the one before, "
            "for all sessions (this chart is kept per UTC day).")


def _service_level_chart(data: ReportData, zone: str) -> Plot | None:
    first, last = data.headline.period.with_previous.utc_days
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return charts.service_levels(data.service_levels, threshold_text(data.threshold_s), days,
                                 data.headline.period.utc_days[0])


def _service_level_alt(data: ReportData) -> str:
    """The chart in a sentence: what the cells are, and the all-teams figure of each day."""
    days = data.service_levels[data.service_levels["team"].isna()]
    per_day = "; ".join(f"{pd.Timestamp(d.day):%a %-d %b} {percent(d.service_level)} of {d.offered:,.0f}"
                        for d in days.itertuples())
    return (f"Table-like chart of the share of offered queue visits answered within "
            f"{threshold_text(data.threshold_s)}, one row per team and one column per UTC day, "
            f"coloured from red (0 %) to green (100 %). All teams, per day: {per_day}.")


def _queue_days(data: ReportData) -> pd.DataFrame:
    rows = data.marts["mart_queue_dynamics"]
    first, last = data.headline.period.with_previous.utc_days
    return rows[pd.to_datetime(rows["day"]).dt.date.between(first, last)]


CHARTS = (
    Chart("daily_volume", "Daily volume",
          lambda data, zone: charts.daily_volume(data.daily, _day_labels(data, zone), data.headline.period.days),
          _daily_span,
          "Bars add up to the sessions in the headline, so a low bar is a quiet day, never a part-day.",
          "No session started in these two periods."),
    Chart("response_times", "Agent reply times",
          lambda data, zone: charts.response_times(data.replies),
          _current,
          "Every customer message answered by an agent counts once, credited to the agent who replied.",
          "No agent replied to a customer in sessions of this period."),
    Chart("queue_waits", "Waiting for an agent",
          lambda data, zone: charts.queue_waits(_queue_days(data)),
          _both_periods_by_utc_day,
          "Each wait counts on the UTC day it began, for the team that finally took the session. "
          "Waits that ended without an agent (the customer left, or the bot took over) are not in these lines.",
          "No customer was taken from the queue by an agent on these days."),
    Chart("service_level", "Service level per team",
          _service_level_chart,
          _both_periods_by_utc_day,
          "Each cell: of the queue visits that began that UTC day with that team and were offered to an agent "
          "(answered, or abandoned after the first seconds), the share an agent answered in time, and how many "
          "were offered (–: none). Small numbers swing widely: read the percentage with its count. A team is the one "
          "that took the visit, else the last the session was transferred to; unassigned: visits that ended "
          "before any team took them, so never answered. The bottom row, all teams, is the headline's figure "
          "per day.",
          "No queue visit was offered to an agent on these days.",
          alt=_service_level_alt),
    Chart("heatmap", "When customers start sessions",
          lambda data, zone: charts.heatmap(data.marts["mart_operational_heatmap"], zone),
          _all_loaded,
          "Darker cells are busier hours: use them to plan agent shifts.",
          "No session has started yet, so there is no weekly pattern to show."),
    Chart("friction", "Self-service forms",
          lambda data, zone: charts.friction(data.marts["mart_friction"]),
          _all_loaded,
          "Each bar is one step of a form opened from the chat. A long orange or red part marks a step "
          "that sends customers to an agent or makes them give up.",
          "No customer has opened a self-service form yet."),
)


@dataclass(frozen=True)
class ReportFiles:
    folder: Path
    html: Path
    images: tuple[Path, ...]
    csvs: tuple[Path, ...]
    subject: str
    headline: Headline
    text: str                                 # the plain-text body: title, warning, headline figures
    email_html: str = field(repr=False)       # the page with cid: images, for delivery
    stale: bool = False                       # the data was over a day old when rendered


def content_id(image: Path) -> str:
    """The Content-ID by which the email's HTML refers to an attached chart."""
    return f"{image.stem}@journey-report"


def render_report(source: Path, out_root: Path, day: date | None = None, reporting_timezone: str = "UTC",
                  period_days: int = 7, now: datetime | None = None, measures: Measures = Measures()) -> ReportFiles:
    """Reads the serving snapshot at `source`. `reporting_timezone` must be the zone
    dbt built the heatmap in (its var `reporting_timezone`): the report writes times
    in it and labels the heatmap with it, but cannot re-bin hours the mart counted.
    `measures`: the service-level and recontact settings the marts were built with.
    `now` (aware; default the clock) decides whether the data is stale."""
    now = now or datetime.now(timezone.utc)
    data = read_report_data(source, period_days, measures)
    folder = out_root / (day or now.date()).isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    zone = reporting_timezone

    csvs = []
    for name, frame in _tables(data, zone).items():
        csvs.append(folder / f"{name}.csv")
        frame.to_csv(csvs[-1], index=False)
    images = _draw_charts(data, zone, folder)

    h = data.headline
    title = _title(h, zone)
    warning = staleness(h, now)
    sentences = headline_sentences(h, zone)

    def page(src: Callable[[Path], str]) -> str:
        return _page(title, data, zone, warning, images, src)

    report = folder / "report.html"
    report.write_text(page(_data_uri))
    return ReportFiles(
        folder=folder, html=report, images=tuple(images.values()), csvs=tuple(csvs),
        subject=_subject(h, zone, warning is not None), headline=h,
        text="\n\n".join([title, *([warning] if warning else []), "\n".join(sentences)]),
        email_html=page(lambda image: f"cid:{content_id(image)}"), stale=warning is not None,
    )


def _title(h: Headline, zone: str) -> str:
    return f"Customer journey report: {_subtitle(h, zone)}"


def _subtitle(h: Headline, zone: str) -> str:
    return f"last {n_days(h.period.days)}, {period_dates(h.period, zone)} · data as of {data_as_of(h, zone)}"


def _subject(h: Headline, zone: str, stale: bool) -> str:
    sessions, resolved = h.figure("sessions"), h.figure("resolved_share")
    trend = change(sessions, h.has_previous)
    return (f"{'[data out of date] ' if stale else ''}Customer journey report, {period_dates(h.period, zone)}: "
            f"{value(sessions)} sessions ({trend}), {value(resolved)} resolved")


def _draw_charts(data: ReportData, zone: str, folder: Path) -> dict[str, Path]:
    images = {}
    for chart in CHARTS:
        plot = chart.draw(data, zone)
        if plot is not None:
            images[chart.name] = folder / f"{chart.name}.png"
            images[chart.name].write_bytes(charts.png_bytes(plot))
    return images


def _day_labels(data: ReportData, zone: str) -> list[str]:
    """Each 24-hour bucket named after the day its middle falls on, oldest first."""
    ends = data.daily.drop_duplicates("days_back")["day_end"]
    return [day_label(end, zone).replace(" ", "\n", 1) for end in ends]


# ---- CSV files: every number on the page ----

def _tables(data: ReportData, zone: str) -> dict[str, pd.DataFrame]:
    h = data.headline
    return {
        "period": _period_table(h),
        "headline": pd.DataFrame([{
            "figure": f.key, "label": f.label, "unit": f.unit, "current_period": f.current,
            "previous_period": f.previous, "change": f.change,
            "change_kind": "difference" if f.unit in ("share", "score") else "relative",
        } for f in h.figures]),
        "channels": data.channels,
        "csat": data.csat,
        "daily_volume": data.daily.assign(label=[day_label(end, zone) for end in data.daily["day_end"]],
                                          day_start=data.daily["day_end"] - timedelta(days=1))[
            ["period", "label", "day_start", "day_end", "channel", "sessions", "days_back"]],
        "agents": data.agents,
        "reply_times": data.replies,
        "service_level_days": data.service_levels.assign(
            team=data.service_levels["team"].fillna("all teams"), threshold_s=data.threshold_s),
        **data.marts,
    }


def _period_table(h: Headline) -> pd.DataFrame:
    """The bounds in UTC: sessions started after `starts_after` and at or before `ends_at`; the
    UTC days the marts kept per day are cut to; and the (earlier) days of the resolution figures."""
    periods = (("current", h.period), ("previous", h.period.previous),
               ("resolution_current", h.resolution_period), ("resolution_previous", h.resolution_period.previous))
    return pd.DataFrame([{"period": name, "starts_after": p.start, "ends_at": p.end, "days": p.days,
                          "first_utc_day": p.utc_days[0], "last_utc_day": p.utc_days[1],
                          "data_watermark": h.data_watermark, "published_at": h.published_at}
                         for name, p in periods])


# ---- the page ----

def _data_uri(image: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode("ascii")


def _page(title: str, data: ReportData, zone: str, warning: str | None, images: dict[str, Path],
          src: Callable[[Path], str]) -> str:
    h = data.headline
    parts = [
        f"<h1>Customer journey report<br><span class='sub'>{esc(_subtitle(h, zone))}</span></h1>",
        f"<p class='meta'>Period: sessions started from {esc(period_span(h.period, zone))}, compared with the "
        f"{n_days(h.period.days)} before. “Data as of” is the newest event loaded. Times are in {esc(zone)}.</p>",
        f"<div class='warning'>⚠ {esc(warning)}</div>" if warning else "",
        "<h2>Headline</h2>", _cards(h),
        *_chart_section(CHARTS[0], data, zone, images, src),
        "<h2>Sessions by channel</h2>", _channels_table(data.channels, h),
        "<h2>Customer satisfaction (CSAT)</h2>", _csat_section(data.csat, h),
        "<h2>Agents</h2>", _agents_table(data.agents, h),
        *(part for chart in CHARTS[1:] for part in _chart_section(chart, data, zone, images, src)),
        "<h2>Files beside this report</h2>", _files_note(),
    ]
    body = "\n".join(part for part in parts if part)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: Arial, Helvetica, sans-serif; max-width: 1000px; margin: 1em auto; color: #222; }}
h1 .sub {{ font-size: 0.6em; font-weight: normal; color: #444; }}
h2 {{ margin-top: 1.6em; border-bottom: 2px solid #e4e4e4; padding-bottom: 4px; }}
img {{ max-width: 100%; }} .meta, .caption, .span {{ color: #555; font-size: 0.9em; }}
.span {{ font-style: italic; }}
.warning {{ background: #fff4e5; border: 2px solid #e8a33d; padding: 10px 14px; font-weight: bold; }}
table {{ border-collapse: collapse; font-size: 0.92em; }}
td, th {{ padding: 4px 8px; border-bottom: 1px solid #ddd; white-space: nowrap; }}
th {{ text-align: left; background: #f4f4f4; font-size: 0.9em; white-space: normal; vertical-align: bottom; }}
td.n, th.n {{ text-align: right; }} tr.total td {{ font-weight: bold; border-top: 2px solid #bbb; }}
table.cards {{ width: 100%; border-collapse: separate; border-spacing: 8px; }}
table.cards td {{ border: 1px solid #ddd; border-radius: 6px; padding: 10px; vertical-align: top; width: 25%;
                 white-space: normal; }}
.label {{ font-size: 0.85em; color: #555; }} .value {{ font-size: 1.7em; font-weight: bold; margin: 4px 0; }}
.value.pending {{ font-size: 1.05em; color: #555; }}
.good {{ color: #2e7d4f; }} .bad {{ color: #c0392b; }} .neutral {{ color: #555; }}
.small {{ font-size: 0.8em; color: #666; }} .bar {{ background: #4c78a8; height: 10px; }}
</style></head>
<body>
{body}
</body></html>
"""


def _chart_section(chart: Chart, data: ReportData, zone: str, images: dict[str, Path],
                   src: Callable[[Path], str]) -> list[str]:
    parts = [f"<h2>{esc(chart.title)}</h2>", f"<p class='span'>{esc(chart.span(data, zone))}</p>"]
    if chart.name in images:
        alt = chart.alt(data) if chart.alt else chart.title
        return [*parts, f"<img src='{src(images[chart.name])}' alt='{esc(alt)}'>",
                f"<p class='caption'>{esc(chart.caption)}</p>"]
    return [*parts, f"<p>{esc(chart.when_empty)}</p>"]


def _cards(h: Headline) -> str:
    if not h.sessions:
        return f"<p>{esc(_no_sessions(h))}</p>"
    cells = [_card(f, h) for f in h.figures]
    rows = ["<tr>" + "".join(cells[i:i + 4]) + "</tr>" for i in range(0, len(cells), 4)]
    return "<table class='cards'>" + "".join(rows) + "</table>"


def _no_sessions(h: Headline) -> str:
    return f"No customer session started in the last {n_days(h.period.days)}, so there are no headline figures."


def _card(f: Figure, h: Headline) -> str:
    previous = ("" if f.pending else f"previous {n_days(h.period.days)}: {value(f, current=False)}"
                if h.has_previous else f"no sessions in the {n_days(h.period.days)} before")
    return (f"<td><div class='label'>{esc(f.label)}</div>"
            f"<div class='value{' pending' if f.pending else ''}'>{esc(value(f))}</div>"
            f"<div class='{tone(f)}'>{esc(versus(f, h.period.days, h.has_previous))}</div>"
            f"{_small(previous)}{_small(f.hint)}</td>")


def _small(text: str) -> str:
    return f"<div class='small'>{esc(text)}</div>" if text else ""


def _table(headers: list[str], rows: list[list[str]], numeric_from: int = 1, total: list[str] | None = None) -> str:
    """An HTML table of already-formatted cells; columns from `numeric_from` on are right-aligned."""
    def cells(tag: str, values: list[str]) -> str:
        return "".join(f"<{tag}{' class=n' if i >= numeric_from else ''}>{v}</{tag}>" for i, v in enumerate(values))
    return "\n".join(["<table>", f"<tr>{cells('th', [esc(x) for x in headers])}</tr>",
                      *(f"<tr>{cells('td', row)}</tr>" for row in rows),
                      *([f"<tr class='total'>{cells('td', total)}</tr>"] if total else []), "</table>"])


def _channels_table(channels: pd.DataFrame, h: Headline) -> str:
    """Per channel, then all channels (the headline's figures, so the rows visibly add up)."""
    if not channels["sessions"].sum():
        return f"<p>{esc(_no_sessions(h))}</p>"

    def row(name: str, sessions: Figure, share: float, resolved: float, contained: float) -> list[str]:
        return [esc(name), value(sessions), percent(share), value(sessions, current=False),
                esc(change(sessions, h.has_previous)), percent(resolved), percent(contained)]

    rows = [row(c.channel, Figure(c.channel, c.channel, "count", c.sessions, c.previous_sessions, None, ""),
                c.share, c.resolved_share, c.bot_containment) for c in channels.itertuples()]
    total = row("all channels", h.figure("sessions"), 1.0, h.figure("resolved_share").current,
                h.figure("bot_containment").current)
    headers = ["channel", "sessions", "share of sessions", f"previous {n_days(h.period.days)}", "change",
               "resolved", "bot containment"]
    return _table(headers, rows, total=total)


def _csat_section(csat: pd.DataFrame, h: Headline) -> str:
    answers = int(csat["answers"].sum())
    if not answers:
        return "<p>No customer answered the satisfaction survey in sessions of this period.</p>"
    average = h.figure("avg_csat")
    rows = [[f"{row.score}", count(row.answers), percent(row.share),
             f"<div class='bar' style='width:{200 * row.share:.0f}px'></div>"]
            for row in csat.itertuples()]
    return (f"<p>Average <b>{esc(score(average.current))}</b> from {count(answers)} answers "
            f"({esc(versus(average, h.period.days, h.has_previous))}). "
            "1 is very dissatisfied, 5 very satisfied; each session counts its last answer.</p>"
            + _table(["score", "answers", "share", ""], rows))


def _agents_table(agents: pd.DataFrame, h: Headline) -> str:
    if agents.empty:
        return "<p>No agent took part in a session of this period.</p>"
    rows = [[esc(a.team), esc(a.agent_id), count(a.sessions_handled), count(a.sessions_resolved),
             percent(a.resolution_rate), duration(a.median_first_response_s), duration(a.p90_first_response_s),
             duration(a.median_response_s), duration(a.avg_handle_time_s),
             "n/a" if missing(a.avg_csat) else f"{a.avg_csat:.2f} ({a.csat_answers:,})"]
            for a in agents.itertuples()]
    return (_table(["team", "agent", "sessions handled", "resolved as last agent", "resolution rate",
                    "first response, median", "first response, 9 in 10 within", "reply time, median",
                    "handle time per handled session", "CSAT (answers)"], rows, numeric_from=2)
            + "<p class='caption'>" + esc(_agents_caption(h)) + "</p>")


def _agents_caption(h: Headline) -> str:
    return (f"Sessions started in the last {n_days(h.period.days)}. Handled: the agent was assigned. Resolved: the "
            "agent was the last one assigned before the session was resolved. First response: from the "
            "session joining the queue to the first agent reply, for the sessions this agent answered first. "
            "Reply time: from a customer message to the next agent reply. Handle time: time in conversation "
            "while assigned, up to resolution or expiry (a chat the customer abandoned counts until it "
            "expired). An agent who only replied in someone else's session shows 0 handled. "
            "n/a: no such sample in the period.")


def _files_note() -> str:
    notes = {
        "headline.csv": "each headline figure in this and the previous period, and the change",
        "period.csv": "the period bounds (UTC) and the data as of",
        "channels.csv, csat.csv, daily_volume.csv": "the tables and the daily chart above",
        "agents.csv, reply_times.csv": "the agent table (with sample counts) and the reply-time chart",
        "service_level_days.csv": "the service-level chart: per UTC day and team (and all teams), offered, "
                                  "answered in time, abandoned",
        "mart_*.csv": "the marts behind the charts over all loaded data, whole",
    }
    return "<ul>" + "".join(f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in notes.items()) + "</ul>"
