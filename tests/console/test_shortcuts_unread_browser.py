"""In the console: unread counts on queue cards (cleared by opening the conversation, back when
the customer writes again), keyboard shortcuts (claim, reply, note, resolve, ? for help; not
while typing), the team filter, and a rating that appears without a reload."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.console.conftest import make_cme
from tests.console.test_console_browser import Customer, queue_item, sign_in
from tests.utils import MINI_KB

pytestmark = pytest.mark.browser


@pytest.fixture
def extra_kb() -> dict[str, str]:
    """The invoices article belongs to the billing team."""
    article = MINI_KB["billing/invoices.md"].replace("---\n", "---\nteam: billing\n", 1)
    return {"billing/invoices.md": article}


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


def test_unread_counts_clear_on_opening_and_come_back_with_new_messages(live_server, page, http):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    grace = Customer(http, name="Grace Hopper")
    grace.say("How do I export my data?")
    grace.say("As CSV if possible")
    grace.ask_for_a_human()
    ada = Customer(http, name="Ada Lovelace")
    ada.say("Where can I download my invoices?")
    ada.ask_for_a_human()
    sign_in(page, live_server, alice)

    graces = queue_item(page, grace.id)
    expect(graces.locator(".unread")).to_have_text("2")
    expect(queue_item(page, ada.id).locator(".unread")).to_have_text("1")
    expect(page.locator('#views .view[data-view="all"] .view-unread')).to_have_text("2 unread")

    graces.click()
    expect(page.locator("#transcript .role-customer")).to_have_count(2)
    expect(graces.locator(".unread")).to_have_count(0)
    expect(page.locator('#views .view[data-view="all"] .view-unread')).to_have_text("1 unread")

    queue_item(page, ada.id).click()  # Grace's stays read once she is no longer open
    expect(queue_item(page, ada.id).locator(".unread")).to_have_count(0)
    expect(graces.locator(".unread")).to_have_count(0)
    grace.say("Hello? Still there?")
    expect(graces.locator(".unread")).to_have_text("1")

    page.reload()  # stored on the server, not in the page
    expect(page.locator("#connection")).to_have_text("live")
    expect(queue_item(page, grace.id).locator(".unread")).to_have_text("1")
    expect(queue_item(page, ada.id).locator(".unread")).to_have_count(0)


def test_claim_reply_note_and_resolve_by_keyboard(live_server, page, http):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    grace = Customer(http, name="Grace Hopper")
    grace.say("How do I export my data?")
    grace.ask_for_a_human()
    sign_in(page, live_server, alice)
    queue_item(page, grace.id).click()
    expect(page.locator("button[data-action=claim]")).to_be_visible()

    page.keyboard.press("?")
    help = page.locator("#shortcuts-help")
    expect(help).to_be_visible()
    expect(help).to_contain_text("Claim the open conversation")
    page.keyboard.press("Escape")
    expect(help).to_be_hidden()

    page.locator("#canned-search").focus()  # typing in a field: letters are letters
    page.keyboard.type("ce")
    expect(page.locator("#canned-search")).to_have_value("ce")
    expect(page.locator("#status")).to_have_text("waiting for a CME")
    page.locator("#canned-search").fill("")
    page.locator("#canned-search").blur()

    page.keyboard.press("c")
    expect(page.locator("#status")).to_have_text("claimed by you")
    page.keyboard.press("n")
    expect(page.locator("#reply-text")).to_be_focused()
    expect(page.locator("#mode-note")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#reply-text")).to_have_value("")  # the key itself is not typed
    page.keyboard.type("Checked the export job.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#transcript .role-note")).to_contain_text("Checked the export job.")

    page.locator("#reply-text").blur()
    page.keyboard.press("r")
    expect(page.locator("#reply-text")).to_be_focused()
    expect(page.locator("#mode-reply")).to_have_attribute("aria-pressed", "true")
    page.keyboard.type("Here is how to export it.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#transcript .role-agent")).to_contain_text("Here is how to export it.")

    page.locator("#reply-text").blur()
    page.keyboard.press("e")
    expect(page.locator("#status")).to_have_text("resolved")
    assert grace.messages()["status"] == "resolved"


def test_a_rating_shows_in_the_open_conversation_without_a_reload(live_server, page, http):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    grace = Customer(http, name="Grace Hopper")
    grace.say("How do I export my data?")
    grace.ask_for_a_human()
    sign_in(page, live_server, alice)
    queue_item(page, grace.id).click()
    page.click("button[data-action=claim]")
    page.fill("#reply-text", "Done!")
    page.click("#send-reply")
    expect(page.locator("#transcript .role-agent")).to_contain_text("Done!")
    page.click("button[data-action=resolve]")
    expect(page.locator("#status")).to_have_text("resolved")
    page.evaluate("window.notReloaded = true")
    rated = http.post(
        f"/api/conversations/{grace.id}/csat",
        json={"rating": 5, "comment": "Quick and kind"},
        headers=grace.headers,
    )
    assert rated.status_code == 200, rated.text
    expect(page.locator("#csat")).to_contain_text("5/5")
    expect(page.locator("#csat")).to_contain_text("Quick and kind")
    assert page.evaluate("window.notReloaded") is True


def test_the_team_filter_shows_one_teams_conversations(live_server, page, http):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    sign_in(page, live_server, alice)
    page.locator("#team-bar summary").click()
    page.fill("#my-teams", "billing, technical")
    page.click("#my-teams-form button[type=submit]")
    expect(page.locator("#team-filter option")).to_have_count(3)  # all, billing, technical
    presence = http.get("/api/cme/presence", headers=alice.bearer).json()
    assert presence["cmes"][0]["teams"] == ["billing", "technical"]

    grace = Customer(http, name="Grace Hopper")
    grace.say("How do I export my data?")
    grace.ask_for_a_human()
    ada = Customer(http, name="Ada Lovelace")
    ada.say("Where can I download my invoices?")
    ada.ask_for_a_human()
    expect(queue_item(page, ada.id)).to_contain_text("billing")
    expect(queue_item(page, grace.id)).to_be_visible()
    page.select_option("#team-filter", "billing")
    expect(queue_item(page, grace.id)).to_have_count(0)  # no team: not billing's
    expect(queue_item(page, ada.id)).to_be_visible()
    expect(page.locator('#views .view[data-view="all"] .view-count')).to_have_text("1")
    page.select_option("#team-filter", "")
    expect(queue_item(page, grace.id)).to_be_visible()
