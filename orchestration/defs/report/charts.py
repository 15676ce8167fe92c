"""The report's charts, drawn for people who never open the UI.

Each function returns None when its mart holds nothing to draw, so the page
says so in a sentence instead of showing empty axes.
"""

from __future__ import annotations

import io
from datetime import date
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")  # no display on a scheduler host

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from orchestration.defs.report.wording import duration  # noqa: E402

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
OUTCOME_COLOURS = {"advanced": "#4c9a6a", "escalated": "#e8a33d", "dropped": "#c8524a"}


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


class Unit(NamedTuple):
    seconds: float
    name: str
    short: str


def time_unit(largest_s: float) -> Unit:
    """The unit that keeps axis numbers short: 90 s reads better than 1.5 min, 4 h better than 240 min."""
    if largest_s < 180:
        return Unit(1.0, "seconds", "s")
    if largest_s < 180 * 60:
        return Unit(60.0, "minutes", "min")
    return Unit(3600.0, "hours", "h")


# Tableau's ten without its red and green, which the report keeps for bad and good news.
PALETTE = ("#4e79a7", "#f28e2b", "#76b7b2", "#b07aa1", "#edc948", "#9c755f", "#ff9da7", "#bab0ac")


def colours(names) -> dict[str, str]:
    """The same team (or channel) keeps its colour in every chart."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(names))}


def daily_volume(daily: pd.DataFrame, day_labels: list[str], days: int) -> Figure | None:
    """Stacked bars per 24 hours and channel, the previous period paler, oldest day on the left.
    `day_labels` names each bar, oldest first."""
    if not daily["sessions"].sum():
        return None
    grid = daily.pivot_table(index="days_back", columns="channel", values="sessions", aggfunc="sum")
    grid = grid.sort_index(ascending=False)
    totals = grid.sum(axis=1).to_numpy()
    x = np.arange(len(grid))
    fig, ax = plt.subplots(figsize=(11, 4.4))
    bottom = np.zeros(len(grid))
    channel_colour = colours(grid.columns)
    for channel, colour in channel_colour.items():
        values = grid[channel].to_numpy(dtype=float)
        bars = ax.bar(x, values, bottom=bottom, color=colour, width=0.75)
        for bar, days_back in zip(bars, grid.index):
            bar.set_alpha(1.0 if days_back < days else 0.35)
        bottom += values
    for xi, total in zip(x, totals):
        ax.text(xi, total, f"{total:,.0f}", ha="center", va="bottom", fontsize=8)
    split = len(grid) - days - 0.5
    ax.axvline(split, color="#555555", linestyle="--", linewidth=1)
    top = totals.max() * 1.18
    ax.set_ylim(0, top)
    previous, current = totals[:len(grid) - days].sum(), totals[len(grid) - days:].sum()
    ax.text(split - 0.2, top * 0.97, f"previous {days} days: {previous:,.0f} sessions", ha="right", va="top",
            fontsize=9, color="#555555")
    ax.text(split + 0.2, top * 0.97, f"last {days} days: {current:,.0f} sessions", ha="left", va="top", fontsize=9)
    ax.set_xticks(x, day_labels)
    ax.set_ylabel("sessions started")
    ax.spines[["top", "right"]].set_visible(False)
    # Legend keys in full colour: the first bars drawn are the previous period's, paler.
    keys = [Patch(color=colour, label=channel) for channel, colour in channel_colour.items()]
    ax.legend(handles=keys[::-1], title="channel", fontsize=8, frameon=False, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Sessions started per day, by channel (the previous period paler)")
    return fig


def heatmap(cells: pd.DataFrame, zone: str) -> Figure | None:
    if cells.empty or not cells["sessions_started"].sum():
        return None
    grid = (cells.pivot_table(index="iso_weekday", columns="hour", values="sessions_started", aggfunc="sum")
            .reindex(index=range(1, 8), columns=range(24)).fillna(0).to_numpy())
    fig, ax = plt.subplots(figsize=(11, 4.2))
    image = ax.imshow(grid, cmap="Blues", aspect="auto", vmin=0)
    threshold = grid.max() / 2
    for (row, col), value in np.ndenumerate(grid):
        ax.text(col, row, f"{value:.0f}", ha="center", va="center", fontsize=7,
                color="white" if value > threshold else "#333333")
    ax.set_yticks(range(7), WEEKDAYS)
    ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
    ax.set_xlabel(f"hour of day ({zone}); 09 means 09:00–09:59")
    ax.set_title("Sessions started per weekday and hour (all loaded weeks added up)")
    fig.colorbar(image, ax=ax, label="sessions started", pad=0.01)
    return fig


def friction(steps: pd.DataFrame) -> Figure | None:
    if steps.empty or not steps["sessions_reached"].sum():
        return None
    funnels = list(dict.fromkeys(steps["funnel"]))
    heights = [len(steps[steps["funnel"] == f]) + 1.2 for f in funnels]
    fig, axes = plt.subplots(len(funnels), 1, figsize=(11, 0.55 * sum(heights) + 0.8), sharex=True,
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    widest = steps["sessions_reached"].max()
    for ax, funnel in zip(axes[:, 0], funnels):
        rows = steps[steps["funnel"] == funnel].sort_values("step_index")
        labels = [f"{i}. {name.replace('_', ' ')}" for i, name in zip(rows["step_index"], rows["step"])]
        y = np.arange(len(rows))
        left = np.zeros(len(rows))
        for column, key, label in (("sessions_advanced", "advanced", "went on (next step or completed)"),
                                   ("escalations", "escalated", "asked for an agent here"),
                                   ("dropoffs", "dropped", "dropped off here")):
            values = rows[column].to_numpy(dtype=float)
            ax.barh(y, values, left=left, color=OUTCOME_COLOURS[key], label=label, height=0.7)
            left += values
        for yi, (_, row) in zip(y, rows.iterrows()):
            ax.text(left[yi] + widest * 0.01, yi,
                    f"{row.sessions_reached:,} reached · {row.escalations:,} asked for an agent "
                    f"({_share(row.escalation_rate)}) · {row.dropoffs:,} dropped off ({_share(row.dropoff_rate)})",
                    va="center", fontsize=8)
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        completed = rows["sessions_advanced"].iloc[-1]
        started = rows["sessions_reached"].iloc[0]
        ax.set_title(f"{funnel.replace('_', ' ')}: {started:,} started the form, "
                     f"{completed:,} completed it ({_share(completed / started)})", loc="left", fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xlabel("sessions")
    axes[-1, 0].set_xlim(0, widest * 1.75)
    fig.suptitle("Self-service forms: where customers go on, ask for an agent, or give up", x=0.01, ha="left")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.01, 0.965), ncol=3, fontsize=9, frameon=False)
    return fig


def response_times(replies: pd.DataFrame) -> Figure | None:
    """Box plots drawn from the percentiles in `replies` (one row per team), so the
    chart shows exactly the numbers of its CSV."""
    if replies.empty:
        return None
    unit = time_unit(replies["p90_s"].max())
    fig, ax = plt.subplots(figsize=(9, 4.5))
    stats = [{"label": f"{row.team}\n({row.replies:,} replies)", "whislo": row.p10_s / unit.seconds,
              "q1": row.p25_s / unit.seconds, "med": row.p50_s / unit.seconds, "q3": row.p75_s / unit.seconds,
              "whishi": row.p90_s / unit.seconds} for row in replies.itertuples()]
    boxes = ax.bxp(stats, showfliers=False, patch_artist=True, widths=0.5, medianprops={"color": "black"})
    for patch, colour in zip(boxes["boxes"], colours(replies["team"]).values()):
        patch.set_facecolor(colour)
        patch.set_alpha(0.6)
    for x, row in enumerate(replies.itertuples(), start=1):
        ax.annotate(f"median {duration(row.p50_s)}", (x + 0.27, row.p50_s / unit.seconds), va="center", fontsize=8)
        ax.annotate(f"9 in 10 within {duration(row.p90_s)}", (x + 0.15, row.p90_s / unit.seconds),
                    va="center", fontsize=8)
    ax.set_ylabel(f"{unit.name} from customer message to agent reply")
    ax.set_ylim(bottom=0)
    ax.set_title("How fast agents reply, per team\n(box: middle half of replies; whiskers: 10th to 90th percentile)")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def queue_waits(days: pd.DataFrame) -> Figure | None:
    answered = days.dropna(subset=["median_unassigned_s"])
    if answered.empty:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    team_colour = colours(answered["team"].unique())
    days_shown = pd.to_datetime(answered["day"]).drop_duplicates().sort_values()
    for ax, column, title in ((axes[0], "median_unassigned_s", "Median wait (half waited less), in {unit}"),
                              (axes[1], "p90_unassigned_s", "90th percentile (9 in 10 waited less), in {unit}")):
        unit = time_unit(answered[column].max())
        for team, rows in answered.groupby("team"):
            ax.plot(pd.to_datetime(rows["day"]), rows[column] / unit.seconds, marker="o", color=team_colour[team],
                    label=team)
        ax.set_title(title.format(unit=unit.name), fontsize=10)
        ax.set_ylabel(f"{unit.name} waiting for an agent")
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        if len(days_shown) <= 14:  # one tick a day; a longer period keeps matplotlib's spacing
            ax.set_xticks(days_shown)
        ax.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%a %-d %b"))
        ax.tick_params(axis="x", labelrotation=45)
    axes[0].legend(title="team", fontsize=8, frameon=False)
    fig.suptitle("Time in the agent queue before an agent took the session, per team and day (UTC)")
    return fig


def service_levels(days: pd.DataFrame, within: str, dates: list[date], first_current_day: date) -> Figure | None:
    """Team × UTC day cells (every day of `dates`) coloured by service level, each with its offered
    visits; the bottom row is all teams (the headline's figure per day). A line parts the periods."""
    if days.empty or not days["offered"].sum():
        return None
    frame = days.assign(team=days["team"].fillna("all teams"), day=pd.to_datetime(days["day"]).dt.date)
    teams = [*sorted(set(frame["team"]) - {"all teams"}), "all teams"]
    level, offered = (frame.pivot(index="team", columns="day", values=column).reindex(index=teams, columns=dates)
                      for column in ("service_level", "offered"))
    fig, ax = plt.subplots(figsize=(11, 0.62 * len(teams) + 1.9))
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#eeeeee")
    image = ax.imshow(np.ma.masked_invalid(level.to_numpy(dtype=float)), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for (row, col), share in np.ndenumerate(level.to_numpy(dtype=float)):
        text = "–" if np.isnan(share) else f"{100 * share:.0f} %\nof {offered.iat[row, col]:,.0f}"
        ax.text(col, row, text, ha="center", va="center", fontsize=8, color=_ink(cmap, share),
                fontweight="bold" if teams[row] == "all teams" else "normal")
    ax.axhline(len(teams) - 1.5, color="white", linewidth=4)
    split = sum(day < first_current_day for day in dates) - 0.5
    if 0 < split < len(dates) - 1:
        ax.axvline(split, color="#222222", linestyle="--", linewidth=1.5)
        ax.text(split - 0.1, -0.6, "◀ previous period", ha="right", va="bottom", fontsize=9, color="#555555")
        ax.text(split + 0.1, -0.6, "report period ▶", ha="left", va="bottom", fontsize=9)
    ax.set_yticks(range(len(teams)), teams)
    ax.get_yticklabels()[-1].set_fontweight("bold")
    ax.set_xticks(range(len(dates)), [f"{day:%a}\n{day:%-d %b}" for day in dates],
                  fontsize=8 if len(dates) > 10 else 10)
    ax.set_xlabel("UTC day the queue visit began (–: no visit offered)")
    ax.set_title(f"Service level: share of offered queue visits an agent answered within {within}, "
                 "per team and day", pad=22)
    colourbar = fig.colorbar(image, ax=ax, pad=0.01, format=matplotlib.ticker.PercentFormatter(1.0))
    colourbar.set_label(f"answered within {within}")
    return fig


def _ink(cmap, share: float) -> str:
    """White text on dark cells, dark text on light ones (and on the grey of no data)."""
    if np.isnan(share):
        return "#555555"
    red, green, blue, _ = cmap(share)
    return "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "#222222"


def _share(rate: float | None) -> str:
    return "n/a" if rate is None or pd.isna(rate) else f"{100 * rate:.0f} %"
