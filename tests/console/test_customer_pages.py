"""The console's customer pages in headless Chromium (issue 15): from a conversation to its
customer in one click, health with "why this score", notes, the at-risk list and queue badges."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from bot.cme.recompute import recompute
from tests.console.conftest import PASSWORD, LiveServer, make_cme

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("SUPPORTBOT_CONSOLE_SCREENSHOTS")  # a folder for the README's


@pytest.fixture
def http(live_server: LiveServer):
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


def sign_in(page: Page, server: LiveServer, name: str = "Casey") -> None:
    cme = make_cme(server.app, email=f"{name.lower()}@example.com", name=name)
    page.goto(f"{server.url}/console")
    page.fill("input[name=email]", cme.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#me")).to_have_text(cme.name)


def unhappy_conversation(http: httpx.Client, visitor: str, *, rate: bool = True) -> str:
    """A visitor's conversation that went to a person (and was rated 1 if `rate`)."""
    created = http.post("/api/conversations", json={"visitor_id": visitor}).json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    url = f"/api/conversations/{created['id']}"
    assert (
        http.post(
            f"{url}/messages", json={"text": "How do I export my data?"}, headers=headers
        ).status_code
        == 200
    )
    assert http.post(f"{url}/handoff", headers=headers).status_code == 200
    if rate:
        assert http.post(f"{url}/csat", json={"rating": 1}, headers=headers).status_code == 200
    return created["id"]


def recompute_now(server: LiveServer) -> None:
    bot = server.app.state.bot
    recompute(bot.db, bot.settings, now=bot.clock())


def test_customer_page_from_a_conversation_with_health_why_and_notes(live_server, page, http):
    visitor = uuid.uuid4().hex
    earlier = unhappy_conversation(http, visitor)
    latest = unhappy_conversation(http, visitor, rate=False)
    recompute_now(live_server)
    sign_in(page, live_server)

    card = page.locator(f'.queue-item[data-conversation-id="{latest}"]')
    expect(card.locator(".badge.at-risk")).to_have_text("at risk")
    card.click()
    page.get_by_role("link", name="Customer page").click()  # one click from the conversation
    expect(page).to_have_url(re.compile(r"/console/customers/\d+$"))

    expect(page.locator("h1.customer")).to_have_text(re.compile("Visitor"))
    expect(page.get_by_role("heading", name="Conversations (2)")).to_be_visible()
    for conversation_id in (earlier, latest):
        expect(page.locator(f'a[href$="/console/conversations/{conversation_id}"]')).to_be_visible()
    why = page.get_by_role("table", name="Why this score")
    expect(why.locator('tr[data-component="escalations"]')).to_contain_text("2 escalations")
    expect(why.locator('tr[data-component="escalations"] td.num').last).to_have_text(
        re.compile(r"^-")
    )
    expect(why.locator('tr[data-component="csat"]')).to_contain_text("1 ratings")
    expect(why.locator('tr[data-component="nps"]')).to_have_count(0)  # no answers: skipped
    expect(page.locator(".score-big")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator(".escalation .badge.reason").first).to_be_visible()

    page.get_by_label("New note").fill("Asked twice about exports; call back")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".customer-note")).to_contain_text("Asked twice about exports")
    page.reload()
    expect(page.locator(".customer-note")).to_contain_text("Casey")

    page.get_by_role("button", name="Mark VIP").click()
    expect(page.locator(".customer-header .badge.vip")).to_be_visible()
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "console-customer.png"), full_page=True)


def test_at_risk_list_shows_the_customers_in_trouble(live_server, page, http):
    troubled = uuid.uuid4().hex
    for _ in range(2):
        unhappy_conversation(http, troubled)
    fine = http.post("/api/conversations", json={"visitor_id": uuid.uuid4().hex}).json()
    headers = {"Authorization": f"Bearer {fine['token']}"}
    http.post(
        f"/api/conversations/{fine['id']}/messages",
        json={"text": "How do I export my data?"},
        headers=headers,
    )
    recompute_now(live_server)
    sign_in(page, live_server)

    page.get_by_role("link", name="Customers").click()
    expect(page).to_have_url(f"{live_server.url}/console/customers")
    expect(page.locator(".customer-row")).to_have_count(2)
    page.get_by_role("link", name="At risk").click()
    expect(page.get_by_role("heading", name="Customers at risk")).to_be_visible()
    rows = page.locator(".customer-row")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".badge.tier-at_risk")).to_have_text("at risk")
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Conversations (2)")).to_be_visible()
