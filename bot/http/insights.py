"""The insight dashboard: its CME JSON API under /api/cme/insights (figures, drill-down lists
and their CSV) and the console page /console/insights that draws them."""

from __future__ import annotations

import csv
import html
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.cme.insights import DASHBOARD, InsightError, Window, drill_down
from bot.cme.insights.definitions import DEFINITIONS
from bot.http.console import SHELL, _session_valid
from bot.http.deps import BotDep, UserDep
from bot.http.errors import documented_errors
from bot.runtime import Bot

MAX_SPAN_DAYS = 400
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
DRILL_PATTERN = (
    r"^[a-z_]{1,40}(=[a-z_]{1,20})?(&(day|channel|reason|hour)=[A-Za-z0-9_-]{1,40}){0,4}$"
)
Figure = Literal["resolution", "escalations", "first-response", "csat", "frustration", "volume"]

router = APIRouter(
    prefix="/api/cme/insights",
    tags=["insights"],
    responses=documented_errors(401, 403, 422, 500),
)

StartDay = Annotated[
    date | None,
    Query(description="First day (UTC) of the window; default: 29 days before `end`"),
]
EndDay = Annotated[date | None, Query(description="Last day (UTC) of the window; default: today")]
Channel = Annotated[
    str | None, Query(pattern=r"^[a-z]{1,16}$", description="Only this channel (web, slack)")
]
Drill = Annotated[
    str,
    Query(
        max_length=200,
        pattern=DRILL_PATTERN,
        description="A figure's `drill` key, e.g. `confirmed`, `escalated&reason=frustration`, "
        "`frustration=high&day=2026-11-02`, `counted&hour=33`",
    ),
]


def window(bot: Bot, start: date | None, end: date | None, channel: str | None) -> Window:
    """The [start, end] days (UTC) as a query window; 422 when out of bounds."""
    end = end or bot.clock().date()
    start = start or end - timedelta(days=29)
    for day in (start, end):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise InsightError(f"days must lie between {FIRST_DAY} and {LAST_DAY}")
    if start > end:
        raise InsightError("start is after end")
    if (end - start).days >= MAX_SPAN_DAYS:
        raise InsightError(f"the window is at most {MAX_SPAN_DAYS} days")
    first = datetime.combine(start, time(), UTC)
    return Window(first, datetime.combine(end + timedelta(days=1), time(), UTC), channel)


def _window_out(w: Window) -> dict[str, Any]:
    return {
        "start": w.start.date().isoformat(),
        "end": (w.end - timedelta(days=1)).date().isoformat(),
        "channel": w.channel,
    }


def _figures(bot: Bot, w: Window, names: list[str]) -> dict[str, Any]:
    with bot.db.read() as session:
        return {name: DASHBOARD[name](session, w) for name in names}


@router.get("", response_model=dict[str, Any])
async def dashboard(
    bot: BotDep, user: UserDep, start: StartDay = None, end: EndDay = None, channel: Channel = None
) -> dict[str, Any]:
    """Every figure of the dashboard for the window, with denominators, drill-down keys and the
    definitions."""
    w = _checked(bot, start, end, channel)
    figures = await run_in_threadpool(_figures, bot, w, list(DASHBOARD))
    return {
        "window": _window_out(w),
        "sla_first_response_s": bot.settings.sla_first_response_s,
        **figures,
        "definitions": DEFINITIONS,
    }


@router.get("/conversations", response_model=dict[str, Any])
async def conversations(
    bot: BotDep,
    user: UserDep,
    drill: Drill,
    start: StartDay = None,
    end: EndDay = None,
    channel: Channel = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """The conversations behind a figure (its `drill` key), newest first."""
    w = _checked(bot, start, end, channel)

    def listed() -> tuple[int, list[dict[str, Any]]]:
        with bot.db.read() as session:
            return drill_down(session, w, drill, limit=limit, offset=offset)

    total, rows = await run_in_threadpool(_guarded, listed)
    return {"window": _window_out(w), "drill": drill, "total": total, "conversations": rows}


CSV_COLUMNS = (
    "conversation_id",
    "channel",
    "customer_id",
    "started_at",
    "confirmed",
    "assumed",
    "durable",
    "ended_not_found",
    "human_involved",
    "escalated",
    "reasons",
    "first_response_s",
    "sla_met",
    "csat",
    "frustration_peak",
    "frustration_bucket",
)


@router.get(
    "/conversations.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The list as CSV"}},
)
async def conversations_csv(
    bot: BotDep,
    user: UserDep,
    drill: Drill,
    start: StartDay = None,
    end: EndDay = None,
    channel: Channel = None,
) -> Response:
    """The whole list behind a figure as CSV (one row per conversation)."""
    w = _checked(bot, start, end, channel)

    def rendered() -> str:
        with bot.db.read() as session:
            _, rows = drill_down(session, w, drill)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row | {"reasons": " ".join(row["reasons"])})
        return out.getvalue()

    body = await run_in_threadpool(_guarded, rendered)
    name = f"insights-{drill.split('&')[0].replace('=', '-')}-{_window_out(w)['start']}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/{figure}", response_model=dict[str, Any])
async def one_figure(
    figure: Figure,
    bot: BotDep,
    user: UserDep,
    start: StartDay = None,
    end: EndDay = None,
    channel: Channel = None,
) -> dict[str, Any]:
    """One figure of the dashboard for the window."""
    w = _checked(bot, start, end, channel)
    figures = await run_in_threadpool(_figures, bot, w, [figure])
    return {"window": _window_out(w), figure: figures[figure]}


def _checked(bot: Bot, start: date | None, end: date | None, channel: str | None) -> Window:
    try:
        return window(bot, start, end, channel)
    except InsightError as exc:
        raise HTTPException(422, str(exc)) from exc


def _guarded(work: Any) -> Any:
    """Run a read; a drill-down the dashboard does not know is the client's mistake (422)."""
    try:
        return work()
    except InsightError as exc:
        raise HTTPException(422, str(exc)) from exc


PAGE_BODY = """<header class="topbar">
<span class="brand">supportbot</span><span class="product">insights</span>
<a href="/console" class="nav">Queue</a><span class="spacer"></span>
</header>
<main class="insights" id="insights">
<form id="filters" class="filters">
<label>From <input type="date" name="start" id="start"></label>
<label>To <input type="date" name="end" id="end"></label>
<label>Channel <select name="channel" id="channel"><option value="">all</option>
<option value="web">web</option><option value="slack">slack</option></select></label>
<button type="submit">Show</button>
<span id="status" role="status"></span>
</form>
<section id="figures" class="figures" aria-live="polite"></section>
<section id="drill" class="drill" hidden>
<h2 id="drill-title"></h2>
<a id="drill-csv" class="button" download>Download CSV</a>
<table><thead><tr><th>Conversation</th><th>Channel</th><th>Started</th><th>Outcome</th>
<th>CSAT</th><th>Peak frustration</th></tr></thead><tbody id="drill-rows"></tbody></table>
</section>
</main>"""


def page_router(bot: Bot) -> APIRouter:
    """/console/insights, for signed-in CMEs."""
    pages = APIRouter(include_in_schema=False)

    @pages.get("/console/insights")
    async def insights_page(request: Request) -> Response:
        session = request.scope.get("state", {}).get("console")
        if session is None or not await run_in_threadpool(_session_valid, bot, session):
            return RedirectResponse(
                f"/console/login?next={quote(request.url.path, safe='/')}", status_code=303
            )
        meta = f'<meta name="csrf-token" content="{html.escape(session.csrf)}">'
        extra = (
            '<link rel="stylesheet" href="/static/insights.css">'
            '<script src="/static/insights.js" defer></script>'
        )
        response = HTMLResponse(
            SHELL.format(
                title="Insights · supportbot console",
                meta=meta,
                styles="",
                script=extra,
                body_class="console insights-page",
                body=PAGE_BODY,
            )
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    return pages
