"""B2B accounts in the console, headless Chromium (issue 15): the account list with members at
risk, one account's health with "why", its members, and the way to and from a customer."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from bot.cme.recompute import recompute
from bot.storage import Csat, store
from escalation import Transition
from tests.console.conftest import LiveServer
from tests.console.test_customer_pages import sign_in

pytestmark = pytest.mark.browser


def customer(server: LiveServer, customer_id: str, company: str, *, unhappy: int) -> None:
    """A verified customer of `company` with `unhappy` escalated, low-rated conversations and
    one resolved without trouble."""
    bot = server.app.state.bot
    identity = store.CustomerIdentity(id=customer_id, company=company, verified=True)
    for trouble in [True] * unhappy + [False]:
        with bot.db.write() as session:
            conversation, _ = store.create_conversation(session, customer=identity)
            store.add_message(
                session,
                conversation_id=conversation.id,
                role="customer",
                text="How do I export my data?",
            )
            if trouble:
                store.change_status(session, conversation=conversation, action=Transition.ESCALATE)
                store.open_escalation(
                    session,
                    conversation_id=conversation.id,
                    reasons=[{"code": "human_request", "detail": "asked for a person"}],
                    trigger_seq=1,
                )
            store.change_status(session, conversation=conversation, action=Transition.RESOLVE)
            session.add(
                Csat(conversation_id=conversation.id, resolution=1, rating=1 if trouble else 5)
            )


def test_account_list_account_page_and_members(live_server: LiveServer, page: Page):
    customer(live_server, "wile", "Acme & Sons", unhappy=3)
    customer(live_server, "road", "Acme & Sons", unhappy=0)
    customer(live_server, "hank", "Globex", unhappy=0)
    bot = live_server.app.state.bot
    recompute(bot.db, bot.settings, now=bot.clock())
    sign_in(page, live_server)

    page.goto(f"{live_server.url}/console/customers")
    page.get_by_role("link", name="Accounts").click()
    expect(page).to_have_url(f"{live_server.url}/console/accounts")
    rows = page.locator(".account-row")
    expect(rows).to_have_count(2)
    acme = page.locator('.account-row[data-customer-company="Acme & Sons"]')
    expect(rows.first).to_have_attribute("data-customer-company", "Acme & Sons")  # at risk first
    expect(acme.locator(".members")).to_have_text("2")
    expect(acme.locator(".at-risk-count")).to_have_text("1")
    expect(acme.locator(".health")).to_have_text(re.compile(r"^\d+$"))

    page.get_by_role("link", name="With customers at risk").click()
    expect(page.locator(".account-row")).to_have_count(1)
    page.get_by_role("link", name="Acme & Sons").click()
    expect(page.locator("h1.account-name")).to_have_text("Acme & Sons")
    why = page.get_by_role("table", name="Why this score")
    expect(why.locator('tr[data-component="escalations"] td.num').last).to_have_text(
        re.compile(r"^-")
    )
    members = page.locator(".member-row")
    expect(members).to_have_count(2)
    expect(members.first.locator(".badge.tier-at_risk")).to_have_text("at risk")
    members.first.get_by_role("link").click()  # to the customer page ...
    expect(page).to_have_url(re.compile(r"/console/customers/\d+$"))
    page.get_by_role("link", name="Acme & Sons").click()  # ... and back to the account
    expect(page.locator("h1.account-name")).to_have_text("Acme & Sons")


def test_an_unknown_account_says_so(live_server: LiveServer, page: Page):
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/console/accounts?company=Nobody%20Inc")
    expect(page.locator("#accounts .empty")).to_contain_text("Nobody Inc")
