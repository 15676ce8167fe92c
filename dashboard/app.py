"""The dashboard's ASGI app: one route per page, each a read-only visit to the
serving snapshot (dashboard/snapshot.py) rendered by a Jinja2 template.

A page's query string carries the filters (dashboard/filters.py) and, on the
sessions pages, the drill-down; every link and the filter form keep them, so a
filter applies to whichever page is opened next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from dashboard import format as fmt
from dashboard.filters import DIMENSIONS, BadFilter, Filters
from dashboard.pages import agents, overview, quality, selfservice, service, sessions, timeline
from dashboard.scope import OPTIONS_SQL
from dashboard.security import Guard
from dashboard.snapshot import NoSnapshot, Visit, read

HERE = Path(__file__).parent
PAGES = (("/", "Overview"), ("/service", "Service"), ("/self-service", "Self-service"), ("/agents", "Agents"),
         ("/quality", "Resolution quality"))


@dataclass(frozen=True)
class Config:
    serving_db: Path
    timezone: str = "UTC"               # JOURNEY_REPORTING_TIMEZONE: the heatmap's weekdays and hours
    threshold_s: int | None = None      # the first of JOURNEY_SERVICE_LEVEL_THRESHOLDS_S
    password: str | None = None         # JOURNEY_DASHBOARD_PASSWORD


def create_app(config: Config) -> Guard:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(fmt.FILTERS)
    templates.env.globals.update(pages=PAGES, dimensions=DIMENSIONS, change=fmt.change, units=fmt.UNITS)

    def page(template: str | None, build: Callable[[Request, Visit, Filters], dict | Response | None]):
        def respond(request: Request, snapshot: Visit) -> Response:
            filters = Filters.parse(request.query_params, _latest_day(snapshot), lambda: _earliest_day(snapshot))
            context = build(request, snapshot, filters)
            if context is None:
                return _problem(templates, request, 404, "No such session in this snapshot.")
            if isinstance(context, Response):
                return context
            context.update(_frame(request, snapshot, filters, config))
            return templates.TemplateResponse(request, template, context)

        def endpoint(request: Request) -> Response:
            try:
                return read(config.serving_db, lambda snapshot: respond(request, snapshot))
            except BadFilter as exc:
                return _problem(templates, request, 400, f"That filter cannot be used: {exc}.")
            except NoSnapshot as exc:
                return _problem(templates, request, 503, f"Nothing to show yet: {exc}.")
        return endpoint

    def drill(request: Request, snapshot: Visit, filters: Filters) -> dict:
        return sessions.sessions(snapshot, filters, sessions.Drill.parse(request.query_params), config.timezone)

    def export(request: Request, snapshot: Visit, filters: Filters) -> Response:
        chosen = sessions.Drill.parse(request.query_params)
        table = sessions.session_table(snapshot, filters, chosen, config.timezone)
        name = f"sessions-{chosen.kind}-{filters.period.first_day}-{filters.period.last_day}.csv"
        return Response(sessions.to_csv(table), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{name}"'})

    routes = [
        Route("/", page("overview.html", lambda r, s, f: overview.overview(s, f, config.threshold_s))),
        Route("/service", page("service.html", lambda r, s, f: service.service(
            s, f, _int(r.query_params.get("threshold")), config.threshold_s, config.timezone))),
        Route("/self-service", page("selfservice.html", lambda r, s, f: selfservice.selfservice(s, f))),
        Route("/agents", page("agents.html", lambda r, s, f: agents.agents(s, f))),
        Route("/quality", page("quality.html", lambda r, s, f: quality.quality(s, f))),
        Route("/sessions", page("sessions.html", drill)),
        Route("/sessions.csv", page(None, export)),
        Route("/sessions/{session_id:path}", page("timeline.html", lambda r, s, f: timeline.timeline(
            s, r.path_params["session_id"]))),
        Route("/healthz", lambda request: PlainTextResponse("ok\n")),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Guard(Starlette(routes=routes), config.password)


def _latest_day(snapshot: Visit) -> date:
    """The day of the newest data, where the default period ends. A watermark at exactly
    00:00 (traffic that stops at midnight, as the demo's does) ends the day before."""
    publication = snapshot.publication
    return ((publication.data_watermark or publication.published_at) - timedelta(microseconds=1)).date()


def _earliest_day(snapshot: Visit) -> date | None:
    """The UTC day the first session started, where a young warehouse's default period begins."""
    return snapshot.values("select min(started_at)::date from marts.fct_sessions")[0]


def _frame(request: Request, snapshot: Visit, filters: Filters, config: Config) -> dict:
    """What every page shows around its content: the publication, the filter form, the navigation."""
    publication = snapshot.publication
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    age_days = (now - publication.data_watermark).days if publication.data_watermark else None
    return {
        "publication": publication,
        "age_days": age_days,
        "filters": filters,
        "options": {name: snapshot.values(sql) for name, sql in OPTIONS_SQL.items()},
        "path": request.url.path,
        "keep": {name: value for name, value in request.query_params.items()
                 if name not in ("start", "end", *DIMENSIONS)},
        "timezone": config.timezone,
    }


def _problem(templates: Jinja2Templates, request: Request, status: int, message: str) -> Response:
    return templates.TemplateResponse(request, "problem.html", {"message": message, "status": status},
                                      status_code=status)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        raise BadFilter(f"threshold: {text[:20]!r} is not a number of seconds") from None
