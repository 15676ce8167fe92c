"""Renders the stakeholder report into a dated folder: one HTML page that
stands alone (charts embedded), the same charts as PNG files, and CSV
extracts of the marts behind them, so a reader can check any number.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from orchestration.defs.report import charts
from orchestration.defs.report.marts import Headline, ReportData, read_report_data
from orchestration.defs.report.wording import headline_sentences, percent, period


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    draw: Callable[[ReportData, str], Figure | None]
    caption: str
    when_empty: str


CHARTS = (
    Chart("heatmap", "When customers start sessions",
          lambda data, zone: charts.heatmap(data.marts["mart_operational_heatmap"], zone),
          "Darker cells are busier hours: use them to plan agent shifts.",
          "No session has started yet, so there is no weekly pattern to show."),
    Chart("friction", "Self-service forms",
          lambda data, zone: charts.friction(data.marts["mart_friction"]),
          "Each bar is one step of a form opened from the chat. A long orange or red part marks a step "
          "that sends customers to an agent or makes them give up.",
          "No customer has opened a self-service form yet."),
    Chart("response_times", "Agent reply times",
          lambda data, zone: charts.response_times(data.responses),
          "Every customer message answered by an agent counts once, credited to the agent who replied.",
          "No agent has replied to a customer yet."),
    Chart("queue_waits", "Waiting for an agent",
          lambda data, zone: charts.queue_waits(data.marts["mart_queue_dynamics"]),
          "Each wait counts on the UTC day it began, for the team that finally took the session. "
          "Waits that ended without an agent (the customer left, or the bot took over) are not in these lines.",
          "No customer has been taken from the queue by an agent yet."),
)


@dataclass(frozen=True)
class ReportFiles:
    folder: Path
    html: Path
    images: tuple[Path, ...]
    csvs: tuple[Path, ...]
    subject: str
    headline: Headline
    text: str                                 # the plain-text body: the headline sentences
    email_html: str = field(repr=False)       # the page with cid: images, for delivery


def content_id(image: Path) -> str:
    """The Content-ID by which the email's HTML refers to an attached chart."""
    return f"{image.stem}@journey-report"


def render_report(warehouse: Path, out_root: Path, day: date | None = None,
                  reporting_timezone: str = "UTC") -> ReportFiles:
    """`reporting_timezone` must be the zone dbt built the heatmap in (its var
    `reporting_timezone`): the report writes the period in it and labels the
    heatmap with it, but cannot re-bin hours the mart has already counted."""
    day = day or datetime.now(timezone.utc).date()
    data = read_report_data(warehouse)
    folder = out_root / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)

    csvs = []
    for name, frame in data.marts.items():
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        csvs.append(path)

    images: dict[str, Path] = {}
    for chart in CHARTS:
        fig = chart.draw(data, reporting_timezone)
        if fig is not None:
            images[chart.name] = folder / f"{chart.name}.png"
            images[chart.name].write_bytes(charts.png_bytes(fig))

    sentences = headline_sentences(data.headline, reporting_timezone)
    title = f"Customer journey report, {day:%A %-d %B %Y}"
    def page(src: Callable[[Path], str]) -> str:
        return _page(title, data, reporting_timezone, sentences, images, src)

    report = folder / "report.html"
    report.write_text(page(_data_uri))
    return ReportFiles(
        folder=folder, html=report, images=tuple(images.values()), csvs=tuple(csvs),
        subject=f"{title}: {data.headline.sessions:,} sessions, {percent(data.headline.resolved_share)} resolved",
        headline=data.headline, text="\n\n".join([title, *sentences]),
        email_html=page(lambda image: f"cid:{content_id(image)}"),
    )


def _data_uri(image: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode("ascii")


def _page(title: str, data: ReportData, zone: str, sentences: list[str], images: dict[str, Path],
          src: Callable[[Path], str]) -> str:
    esc = html.escape
    parts = [
        f"<h1>{esc(title)}</h1>",
        f"<p class='meta'>Data covered: sessions started {esc(period(data.headline, zone))}. "
        f"Times are in {esc(zone)}; durations are in seconds (s), minutes (min) or hours (h).</p>",
        "<h2>In short</h2><ul>", *(f"<li>{esc(s)}</li>" for s in sentences), "</ul>",
    ]
    for chart in CHARTS:
        parts.append(f"<h2>{esc(chart.title)}</h2>")
        if chart.name in images:
            parts.append(f"<img src='{src(images[chart.name])}' alt='{esc(chart.title)}'>"
                         f"<p class='caption'>{esc(chart.caption)}</p>")
        else:
            parts.append(f"<p>{esc(chart.when_empty)}</p>")
    parts += ["<h2>Agents</h2>", _agents_table(data.marts["mart_agent_performance"]),
              "<p class='meta'>The CSV files beside this report hold the full marts behind every chart.</p>"]
    body = "\n".join(parts)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: Arial, Helvetica, sans-serif; max-width: 1000px; margin: 1em auto; color: #222; }}
img {{ max-width: 100%; }} .meta, .caption {{ color: #555; font-size: 0.9em; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 3px 10px; border-bottom: 1px solid #ddd; }}
td.n {{ text-align: right; }}
</style></head>
<body>
{body}
</body></html>
"""


def _agents_table(rows: pd.DataFrame) -> str:
    """Per agent, summed over departments and query natures (a session has one of each, so sums are exact)."""
    if rows.empty:
        return "<p>No agent has handled a session yet.</p>"
    agents = (rows.groupby(["team", "agent_id"], as_index=False)[["sessions_handled", "sessions_resolved"]].sum()
              .sort_values(["team", "agent_id"]))
    lines = ["<table><tr><th>team</th><th>agent</th><th>sessions handled</th>"
             "<th>resolved as last agent</th><th>resolution rate</th></tr>"]
    for agent in agents.itertuples():
        share = agent.sessions_resolved / agent.sessions_handled if agent.sessions_handled else None
        lines.append(f"<tr><td>{html.escape(agent.team)}</td><td>{html.escape(agent.agent_id)}</td>"
                     f"<td class='n'>{agent.sessions_handled:,}</td><td class='n'>{agent.sessions_resolved:,}</td>"
                     f"<td class='n'>{percent(share)}</td></tr>")
    return "\n".join([*lines, "</table>"])
