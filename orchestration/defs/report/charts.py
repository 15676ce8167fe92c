"""The report's charts, drawn for people who never open the UI.

Each function returns None when its mart holds nothing to draw, so the page
says so in a sentence instead of showing empty axes.
"""

from __future__ import annotations

import io
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")  # no display on a scheduler host

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

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


def team_colours(teams) -> dict[str, str]:
    """The same team keeps its colour in every chart."""
    palette = plt.get_cmap("tab10").colors
    return {team: palette[i % len(palette)] for i, team in enumerate(sorted(teams))}


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
    ax.set_title("Sessions started per weekday and hour (all weeks in the period added up)")
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


def response_times(samples: pd.DataFrame) -> Figure | None:
    samples = samples.dropna(subset=["response_s"])
    if samples.empty:
        return None
    teams = sorted(samples["team"].fillna("unknown").unique())
    per_team = [samples.loc[samples["team"].fillna("unknown") == t, "response_s"].to_numpy() for t in teams]
    unit = time_unit(max(np.percentile(v, 90) for v in per_team))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    colours = team_colours(teams)
    boxes = ax.boxplot([v / unit.seconds for v in per_team], whis=(10, 90), showfliers=False, patch_artist=True,
                       widths=0.5, medianprops={"color": "black"})
    for patch, team in zip(boxes["boxes"], teams):
        patch.set_facecolor(colours[team])
        patch.set_alpha(0.6)
    for x, values in enumerate(per_team, start=1):
        median, p90 = np.median(values) / unit.seconds, np.percentile(values, 90) / unit.seconds
        ax.annotate(f"median {median:.0f} {unit.short}", (x + 0.27, median), va="center", fontsize=8)
        ax.annotate(f"9 in 10 within {p90:.0f} {unit.short}", (x + 0.15, p90), va="center", fontsize=8)
    ax.set_xticks(range(1, len(teams) + 1), [f"{t}\n({len(v):,} replies)" for t, v in zip(teams, per_team)])
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
    colours = team_colours(answered["team"].unique())
    days_shown = pd.to_datetime(answered["day"]).drop_duplicates().sort_values()
    for ax, column, title in ((axes[0], "median_unassigned_s", "Median wait (half waited less), in {unit}"),
                              (axes[1], "p90_unassigned_s", "90th percentile (9 in 10 waited less), in {unit}")):
        unit = time_unit(answered[column].max())
        for team, rows in answered.groupby("team"):
            ax.plot(pd.to_datetime(rows["day"]), rows[column] / unit.seconds, marker="o", color=colours[team], label=team)
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


def _share(rate: float | None) -> str:
    return "n/a" if rate is None or pd.isna(rate) else f"{100 * rate:.0f} %"
