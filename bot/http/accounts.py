"""B2B accounts for CMEs: the JSON API (`/api/cme/accounts`, `/api/cme/account?company=`) and
the console page `/console/accounts` that shows them (bot/static/accounts.js)."""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.cme import customer_accounts
from bot.cme.customer_schemas import AccountDetail, AccountsOut
from bot.http.console import API_SCRIPT, SHELL, _session_valid
from bot.http.deps import BotDep, UserDep
from bot.http.errors import documented_errors
from bot.runtime import Bot
from bot.storage import MAX_NAME_CHARS

router = APIRouter(
    prefix="/api/cme",
    tags=["cme"],
    responses=documented_errors(401, 403, 404, 422, 500),
)

Company = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_NAME_CHARS,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The company, as the customers' verified identity names it",
    ),
]


@router.get("/accounts", response_model=AccountsOut)
async def list_accounts(
    bot: BotDep,
    user: UserDep,
    at_risk: Annotated[
        bool, Query(description="Only accounts with at least one member at risk")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AccountsOut:
    """B2B accounts (customers rolled up by company): health, members, members at risk; the
    accounts with the most members at risk first, then the lowest health."""
    rows = await run_in_threadpool(
        customer_accounts.list_accounts, bot, at_risk=at_risk, limit=limit, offset=offset
    )
    return AccountsOut(accounts=rows)


@router.get("/account", response_model=AccountDetail)
async def get_account(company: Company, bot: BotDep, user: UserDep) -> AccountDetail:
    """One account: its health with why and trend, and its members, lowest health first."""
    return await run_in_threadpool(customer_accounts.account_detail, bot, company)


PAGE_BODY = """<header class="topbar">
<span class="brand">supportbot</span><span class="product">console</span>
<a class="nav-queue" href="/console">Queue</a>
<a class="nav-customers" href="/console/customers">Customers</a>
<a class="nav-accounts" href="/console/accounts" aria-current="page">Accounts</a>
<a class="nav-link" href="/console/insights">Insights</a>
<span class="spacer"></span>
<form method="post" action="/console/logout" class="signout">
<input type="hidden" name="csrf" value="{csrf}"><button type="submit">Sign out</button></form>
</header>
<main id="accounts" class="customers-page"><p class="empty">Loading…</p></main>
<div id="toast" class="toast" role="alert" hidden></div>"""


def page_router(bot: Bot) -> APIRouter:
    """/console/accounts (the list) and /console/accounts?company=... (one account)."""
    pages = APIRouter(include_in_schema=False)

    @pages.get("/console/accounts")
    async def accounts_page(request: Request) -> Response:
        session = request.scope.get("state", {}).get("console")
        if session is None or not await run_in_threadpool(_session_valid, bot, session):
            return RedirectResponse(
                f"/console/login?next={quote(request.url.path, safe='/')}", status_code=303
            )
        csrf = html.escape(session.csrf)
        response = HTMLResponse(
            SHELL.format(
                title="Accounts · supportbot console",
                meta=f'<meta name="csrf-token" content="{csrf}">',
                styles='<link rel="stylesheet" href="/static/customers.css">',
                script=API_SCRIPT + '<script src="/static/accounts.js" defer></script>'
                '<script src="/static/insight.js" defer></script>',
                body_class="customers",
                body=PAGE_BODY.format(csrf=csrf),
            )
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    return pages
