"""The geometry of the inline SVG charts; the templates (`_charts.html`) draw it.

Every chart is a plain dataclass of shapes in SVG user units, coloured by CSS
class (`series-N`, `shade-N`, `state-NAME`), so the pages need no script and
no inline style, and a chart scales with its container (viewBox).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime

from dashboard import format as fmt

SHADES = 6  # heatmap colour steps above the empty one
TERMINAL = ("resolved", "expired")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Shape:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str
    href: str | None = None
    label: str = ""
    label_y: float | None = None  # None: in the middle of the shape
    label_x: float | None = None  # None: centred on the shape; else the label starts (or ends) there
    label_anchor: str = "start"   # with label_x: SVG text-anchor, "start" or "end"


@dataclass(frozen=True)
class Tick:
    at: float
    label: str
    anchor: str = "middle"  # SVG text-anchor: the ends of an axis keep their labels inside the chart


@dataclass
class Chart:
    width: float
    height: float
    shapes: list[Shape] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, label)
    left: float = 0
    top: float = 0
    bottom: float = 0


def nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^n at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)


def stacked_bars(days: list[date], series: dict[str, dict[date, int]], names: list[str], link=None) -> Chart:
    """Daily bars stacked by series (e.g. channel); a series keeps the colour of its place in `names`
    (every channel of the snapshot) whatever the filters leave; `link(day)` makes each bar a link."""
    chart = Chart(width=720, height=260, left=44, top=10, bottom=28)
    plot_w, plot_h = chart.width - chart.left - 8, chart.height - chart.top - chart.bottom
    totals = [sum(values.get(d, 0) for values in series.values()) for d in days]
    top = nice_max(max(totals, default=0))
    slot = plot_w / max(len(days), 1)
    for i, day in enumerate(days):
        base = chart.top + plot_h
        for name, values in series.items():
            height = plot_h * values.get(day, 0) / top
            base -= height
            if height:
                chart.shapes.append(Shape(chart.left + i * slot + slot * 0.15, base, slot * 0.7, height,
                                          _series(name, names), f"{fmt.day(day)} · {name}: {values[day]:,}",
                                          link(day) if link else None))
    every = max(1, math.ceil(len(days) / 12))
    chart.x_ticks = [Tick(chart.left + (i + 0.5) * slot, fmt.day(d)) for i, d in enumerate(days) if i % every == 0]
    chart.y_ticks = [Tick(chart.top + plot_h * (1 - k / 4), f"{top * k / 4:,.0f}") for k in range(5)]
    chart.legend = [(_series(name, names), name) for name in series]
    return chart


def _series(name: str, names: list[str]) -> str:
    return f"series-{(names.index(name) if name in names else len(names)) % 8}"


def heatmap(cells: list[dict], measure: str, link) -> Chart:
    """7 weekday rows × 24 hour columns shaded by `measure`; `link(cell)` makes each cell a link."""
    chart = Chart(width=720, height=7 * 24 + 30, left=40, top=4, bottom=26)
    size = (chart.width - chart.left - 4) / 24
    peak = max((cell[measure] or 0 for cell in cells), default=0)
    for cell in cells:
        value = cell[measure] or 0
        shade = 0 if not value else 1 + min(SHADES - 1, int(SHADES * value / (peak + 1e-9)))
        title = (f"{WEEKDAYS[cell['iso_weekday'] - 1]} {cell['hour']:02d}:00–{cell['hour'] + 1:02d}:00 · "
                 f"{cell['sessions_started']:,} sessions started, {cell['escalations']:,} escalations, "
                 f"median queue wait {fmt.seconds(cell['median_queue_wait_s'])}")
        chart.shapes.append(Shape(chart.left + cell["hour"] * size, chart.top + (cell["iso_weekday"] - 1) * 24,
                                  size - 2, 22, f"shade-{shade}", title, link(cell) if value else None,
                                  str(value) if value else ""))
    chart.y_ticks = [Tick(chart.top + n * 24 + 15, name) for n, name in enumerate(WEEKDAYS)]
    chart.x_ticks = [Tick(chart.left + h * size + size / 2, f"{h:02d}") for h in range(0, 24, 2)]
    return chart


class TimeScale:
    """Time to x, linear except that a long idle stretch (over `MIN_BREAK_S`, and over three times
    all the shorter stretches together: a bot waiting out the TTL, a visit still open at the
    watermark) is squeezed into a short break, so the moments around it stay readable."""

    MIN_BREAK_S, BREAK_SHARE = 900.0, 0.08
    TICK_SPACING = 170.0

    def __init__(self, moments: list[datetime], left: float, width: float):
        self.points = sorted(set(moments))
        self.left, self.width = left, width
        spans = [(b - a).total_seconds() for a, b in zip(self.points, self.points[1:])]
        self.breaks = [i for i, span in enumerate(spans)
                       if span > self.MIN_BREAK_S and span > 3 * sum(s for s in spans if s < span)]
        kept = sum(span for i, span in enumerate(spans) if i not in self.breaks)
        self.weights = [kept * self.BREAK_SHARE if i in self.breaks else span for i, span in enumerate(spans)]
        self.before = [0.0]  # the weights before each point: a long session's hundreds of events stay cheap
        for weight in self.weights:
            self.before.append(self.before[-1] + weight)
        self.total = sum(self.weights) or 1.0

    def x(self, at: datetime) -> float:
        if len(self.points) < 2:
            return self.left
        i = max(0, min(bisect_right(self.points, at) - 1, len(self.weights) - 1))
        span = (self.points[i + 1] - self.points[i]).total_seconds() or 1.0
        done = self.before[i] + self.weights[i] * (at - self.points[i]).total_seconds() / span
        return self.left + self.width * done / self.total

    def gaps(self, top: float, height: float) -> list[Shape]:
        """A band over each break, labelled with the time it stands for."""
        shapes = []
        for i in sorted(self.breaks):
            a, b = self.points[i], self.points[i + 1]
            left, right = self.x(a), self.x(b)
            shapes.append(Shape(left, top, right - left, height, "gap",
                                f"{fmt.seconds((b - a).total_seconds())} not drawn to scale", None,
                                f"≈ {fmt.seconds((b - a).total_seconds())}", top - 5))
        return shapes

    def ticks(self) -> list[Tick]:
        """The start, the edges of each break and the end, and between them, where time is drawn to
        scale, evenly spaced times about every `TICK_SPACING` units. A label names the day only when
        it is not the previous label's; labels that would overlap are left out (the end is always kept)."""
        start, end = self.points[0], self.points[-1]
        edges = [(self.points[i + e], ("end", "start")[e]) for i in sorted(self.breaks) for e in (0, 1)]
        anchors = [(start, "start"), *edges, (end, "end")]
        marks = []
        for (a, anchor), (b, _) in zip(anchors, anchors[1:]):
            marks.append((a, anchor))
            if anchor == "end":  # a break's left edge: what follows is the break
                continue
            extra = int((self.x(b) - self.x(a)) // self.TICK_SPACING)
            marks += [(a + (b - a) * k / (extra + 1), "middle") for k in range(1, extra + 1)]
        marks = [mark for n, mark in enumerate(marks) if n == 0 or mark[0] != marks[n - 1][0]]  # an edge at an end
        marks[0] = (start, "start")
        ticks: list[tuple[Tick, datetime]] = []
        for at, anchor in marks:
            if at == end:
                continue
            tick = Tick(self.x(at), _time_label(at, ticks[-1][1] if ticks else None), anchor)
            if not ticks or (_extent(ticks[-1][0])[1] + 8 <= _extent(tick)[0]
                             and at.replace(microsecond=0) != ticks[-1][1].replace(microsecond=0)):
                ticks.append((tick, at))
        if end == start:
            return [Tick(self.x(start), _time_label(start, None), "start")]
        while ticks and _extent(ticks[-1][0])[1] + 8 > _extent(self._end_tick(end, ticks[-1][1]))[0]:
            ticks.pop()
        return [tick for tick, _ in ticks] + [self._end_tick(end, ticks[-1][1] if ticks else None)]

    def _end_tick(self, end: datetime, previous: datetime | None) -> Tick:
        return Tick(self.x(end), _time_label(end, previous), "end")


def _time_label(at: datetime, previous: datetime | None) -> str:
    return f"{at:%H:%M:%S}" if previous is not None and previous.date() == at.date() else f"{at:%d %b %H:%M:%S}"


def _extent(tick: Tick) -> tuple[float, float]:
    """Where a tick's label lies on the axis."""
    width = len(tick.label) * 6.5
    return {"start": (tick.at, tick.at + width), "end": (tick.at - width, tick.at)}.get(
        tick.anchor, (tick.at - width / 2, tick.at + width / 2))


@dataclass(frozen=True)
class Marker:
    """One event on an event lane of the timeline: `css` colours it, `label` (short) may be written beside it."""

    at: datetime
    lane: str
    css: str
    title: str
    label: str = ""


MARKER_W, LANE_H = 5.0, 30.0
LABEL_CHAR_W = 6.2  # width of a label character at the chart's font size, to keep labels apart


def timeline(visits: list[dict], replies: list[dict], markers: list[Marker], watermark: datetime | None,
             lanes: tuple[str, ...], event_lanes: tuple[tuple[str, str], ...]) -> Chart:
    """One lane per state with a bar per stage visit from entry to exit (a visit still open runs to the
    snapshot's watermark; a terminal one is a mark); then one lane per kind of event (`event_lanes`:
    key, label), each event a mark (events too close to tell apart share one, its title lists them, so
    a long session stays legible); last a lane of agent replies, each a bar from the customer's message
    to the reply."""
    rows = len(lanes) + len(event_lanes) + 1
    chart = Chart(width=1200, height=LANE_H * rows + 50, left=150, top=20, bottom=30)
    ends = {id(v): v["exited_at"] or (watermark if v["state"] not in TERMINAL and watermark else v["entered_at"])
            for v in visits}
    moments = [v["entered_at"] for v in visits] + list(ends.values()) + [m.at for m in markers]
    moments += [at for r in replies for at in (r["received_at"], r["replied_at"])]
    scale = TimeScale(moments, chart.left, chart.width - chart.left - 12)
    chart.shapes = scale.gaps(chart.top, LANE_H * rows)
    for visit in visits:
        left = scale.x(visit["entered_at"])
        width = max(scale.x(ends[id(visit)]) - left, 4)
        still = visit["exited_at"] is None and visit["state"] not in TERMINAL
        label = "still open" if still else fmt.seconds(visit["dwell_s"]) if visit["dwell_s"] is not None else ""
        chart.shapes.append(Shape(left, chart.top + lanes.index(visit["state"]) * LANE_H + 4, width, 22,
                                  f"state-{visit['state']}{' still' if still else ''}", _visit_title(visit), None,
                                  label if width >= 48 else ""))
    keys = [key for key, _ in event_lanes]
    for n, key in enumerate(keys):
        top = chart.top + (len(lanes) + n) * LANE_H
        chart.shapes.extend(_marks(sorted((m for m in markers if m.lane == key), key=lambda m: m.at), scale, top,
                                   chart.left, chart.width - 12))
    top = chart.top + (len(lanes) + len(keys)) * LANE_H
    for reply in replies:
        left = scale.x(reply["received_at"])
        chart.shapes.append(Shape(left, top + 8, max(scale.x(reply["replied_at"]) - left, 3),
                                  14, "reply", f"{reply['agent_id']} ({reply['team']}) replied after "
                                  f"{fmt.seconds(reply['response_s'])}"))
    labels = [name.replace("_", " ") for name in lanes] + [label for _, label in event_lanes] + ["agent reply times"]
    chart.y_ticks = [Tick(chart.top + n * LANE_H + 19, label) for n, label in enumerate(labels)]
    chart.x_ticks = scale.ticks()
    chart.legend = list(dict.fromkeys((m.css, LEGEND.get(m.css, m.css)) for m in markers))
    return chart


# What each mark colour stands for (dashboard/pages/timeline.py chooses them).
LEGEND = {"ev-received": "customer message", "ev-bot": "bot message", "ev-human": "agent message",
          "ev-system": "system message", "ev-assigned": "assignment", "ev-transferred": "transfer",
          "ev-webview": "webview opened or left", "ev-step": "funnel step viewed", "ev-completed": "funnel completed",
          "ev-escalation": "asked for a person", "ev-csat": "CSAT"}


def _marks(markers: list[Marker], scale: TimeScale, top: float, left: float, right: float) -> list[Shape]:
    """The marks of one lane, left to right: markers closer than a mark's width share one (coloured as
    the first, titled with all of them); a label is written after its mark only where it fits before the
    next mark."""
    groups: list[list[Marker]] = []
    for marker in markers:
        if groups and scale.x(marker.at) - scale.x(groups[-1][0].at) < MARKER_W + 1:
            groups[-1].append(marker)
        else:
            groups.append([marker])
    shapes, previous_end = [], left
    for n, group in enumerate(groups):
        x = scale.x(group[0].at) - MARKER_W / 2
        following = scale.x(groups[n + 1][0].at) - MARKER_W / 2 if n + 1 < len(groups) else right
        first = group[0]
        if len(group) == 1:
            title, label = f"{first.at:%H:%M:%S} {first.title}", first.label
        else:
            shown = "; ".join(f"{m.at:%H:%M:%S} {m.title}" for m in group[:6])
            title = f"{len(group)} events: {shown}{' …' if len(group) > 6 else ''}"
            label = f"×{len(group)}"
        # After the mark where it fits before the next one, else before the mark (the lane's last, at the
        # chart's right edge) where it fits after the previous one.
        needed = len(label) * LABEL_CHAR_W
        after = following - (x + MARKER_W + 3) >= needed
        before = not after and n + 1 == len(groups) and x - 3 - previous_end >= needed
        label_x = x + MARKER_W + 2 if after else x - 2 if before else None
        shapes.append(Shape(x, top + 5, MARKER_W, 20, f"mark {first.css}", title, None,
                            label if label_x is not None else "", top + 19, label_x, "end" if before else "start"))
        previous_end = (label_x + needed) if after else x + MARKER_W
    return shapes


def _visit_title(visit: dict) -> str:
    state = visit["state"].replace("_", " ")
    if visit["dwell_s"] is None:
        ending = " (the session ended here)" if visit["state"] in TERMINAL else ", still there at the data watermark"
        return f"{state} from {visit['entered_at']:%H:%M:%S}{ending}"
    return f"{state} {visit['entered_at']:%H:%M:%S} → {visit['exited_at']:%H:%M:%S} ({fmt.seconds(visit['dwell_s'])})"
