"""Pages and probes: API docs, health and readiness, and the admin API (the help centre's KB
pages are `helpcentre.py`)."""

from __future__ import annotations

import html
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from bot.cluster import index_version
from bot.http.deps import BotDep
from bot.http.errors import documented_errors
from bot.http.ratelimit import RateLimits, client_ip

router = APIRouter()
admin_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="The admin API's token: SUPPORTBOT_ADMIN_TOKEN",
)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="/static/page.css"></head>
<body><main class="page">{body}</main></body></html>"""


def page(title: str, body: str) -> HTMLResponse:
    """An HTML page; `title` is escaped here, `body` must already be safe."""
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body))


DOCS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>supportbot API</title>
<link rel="stylesheet" href="/docs-assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs-assets/swagger-ui-bundle.js"></script>
<script src="/static/docs-init.js"></script></body></html>"""


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    """Swagger UI served from the swagger-ui-bundle package: no CDN, no inline script."""
    return HTMLResponse(DOCS)


@router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, bool]
    index_version: str = Field(
        "",
        description="What the KB index serves (model, passages, probe, gate): the same on "
        "every instance of a deployment once they follow the worker's build",
    )


@router.get(
    "/readyz",
    tags=["health"],
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: `checks` says what is not"}},
)
async def readyz(bot: BotDep) -> JSONResponse:
    """Database reachable, model loaded and index ready."""
    database = await run_in_threadpool(bot.db.ping)
    checks = {"database": database, "model": bot.model_ready, "index": bot.kb.ready}
    ready = all(checks.values())
    return JSONResponse(
        {"ready": ready, "checks": checks, "index_version": index_version(bot.kb)},
        status_code=200 if ready else 503,
    )


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)],
) -> None:
    expected = request.app.state.bot.settings.admin_token
    if not expected:
        raise HTTPException(403, "the admin API is disabled: set SUPPORTBOT_ADMIN_TOKEN")
    # Counted before the token is compared: a throttled address cannot test guesses at all.
    RateLimits.of(request.app).admin_request(client_ip(request))
    if credentials is None or not secrets.compare_digest(credentials.credentials, expected):
        raise HTTPException(401, "missing or wrong admin bearer token")


@router.get(
    "/api/admin/kb",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=documented_errors(401, 403, 429, 500),
)
async def kb_status(bot: BotDep) -> dict:
    """The served knowledge base: articles, broken files, the retrieval model and the answer
    gate (its threshold, and the calibration's estimated precision and coverage)."""
    return {
        "articles": len(bot.kb.articles()),
        "problems": [str(problem) for problem in bot.kb.problems],
        "model": bot.kb.query_embedder.model_id,
        "answer_gate": bot.kb.gate_report(),
    }


@router.get(
    "/api/admin/embedding",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=documented_errors(401, 403, 429, 500),
)
async def embedding_status(bot: BotDep) -> dict:
    """The embedding batcher since start: batches by size (how many turns shared one encode)
    and texts encoded by model (`supportbot bench` reads it)."""
    return bot.embedder.stats()


@router.post(
    "/api/admin/kb/reload",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=documented_errors(401, 403, 429, 500),
)
async def reload_kb(bot: BotDep) -> dict:
    """Re-read KB_DIR now; returns what changed and any broken articles."""
    report = await run_in_threadpool(bot.maintainer.reload)
    return {
        "added": report.added,
        "changed": report.changed,
        "removed": report.removed,
        "embedded_passages": report.embedded_passages,
        "problems": [str(problem) for problem in report.problems],
        "seconds": round(report.seconds, 3),
    }
