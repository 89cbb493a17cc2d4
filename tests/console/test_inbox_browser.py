"""The inbox and the widget side by side in Chromium: what the customer sees while a CME works."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import make_cme
from tests.console.test_console_browser import queue_item, sign_in

pytestmark = pytest.mark.browser

WIDGET = "#supportbot-widget"


class Customer:
    """A customer in the demo page's widget, on the same server as the console."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        page.goto(f"{url}/")
        page.locator(f"{WIDGET} .launcher").click()
        self.input = page.get_by_role("textbox", name=re.compile("^Message to"))
        self.typing = page.locator(f"{WIDGET} .typing")
        self.panel = page.locator(f"{WIDGET} .panel")

    def ask(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")
        expect(self.page.locator(f"{WIDGET} .msg[data-role=bot]").last).to_be_visible()

    def talk_to_a_person(self) -> str:
        self.page.get_by_role("button", name="Talk to a person").click()
        expect(self.page.locator(f"{WIDGET} .status")).to_contain_text("Waiting for a person")
        return self.page.evaluate(
            """() => { const key = Object.keys(localStorage).find(k => k.startsWith('supportbot:'));
                       return JSON.parse(localStorage.getItem(key)).id; }"""
        )


@pytest.fixture
def customer_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def claim(page: Page, conversation_id: str) -> None:
    queue_item(page, conversation_id).click()
    page.click("button[data-action=claim]")
    expect(page.locator("#status")).to_have_text("claimed by you")


def test_the_customer_never_sees_typing_while_a_cme_writes_a_note(live_server, page, customer_page):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    customer = Customer(customer_page, live_server.url)
    customer.ask("How do I export my data as CSV?")
    conversation_id = customer.talk_to_a_person()
    sign_in(page, live_server, alice)
    claim(page, conversation_id)

    page.click("#mode-note")
    page.locator("#reply-text").press_sequentially("Checking the export job", delay=40)
    customer_page.wait_for_timeout(800)  # typing events would have arrived by now
    expect(customer.typing).to_be_hidden()
    page.click("#add-note")
    expect(page.locator("#transcript .role-note")).to_contain_text("export job")
    expect(customer.typing).to_be_hidden()

    # A reply does show it, and a note sent after typing a reply switches it off at once,
    # not after the indicator's 20 s timeout.
    page.click("#mode-reply")
    page.locator("#reply-text").press_sequentially("Let me look", delay=40)
    expect(customer.typing).to_be_visible()
    expect(customer.typing).to_contain_text("typing")
    page.click("#add-note")
    expect(customer.typing).to_be_hidden(timeout=3_000)
    page.locator("#reply-text").press_sequentially("Still here", delay=40)
    expect(customer.typing).to_be_visible()
    page.click("#mode-note")
    expect(customer.typing).to_be_hidden(timeout=3_000)

    page.click("#mode-reply")
    page.fill("#reply-text", "Your export is ready: [download](https://tallyo.example/export)")
    page.click("#send-reply")
    reply = customer_page.locator(f"{WIDGET} .msg[data-role=agent]")
    expect(reply.locator(".who")).to_have_text("Alice Agent")
    expect(reply.locator("a")).to_have_attribute("href", "https://tallyo.example/export")
    assert "Checking the export job" not in customer_page.locator(f"{WIDGET} .log").inner_text()


def test_resolving_an_unanswered_conversation_asks_first_and_offers_no_rating(
    live_server, page, customer_page
):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    customer = Customer(customer_page, live_server.url)
    customer.ask("How do I export my data as CSV?")
    conversation_id = customer.talk_to_a_person()
    sign_in(page, live_server, alice)
    claim(page, conversation_id)

    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("button[data-action=resolve]")
    expect(page.locator("#status")).to_have_text("claimed by you")
    assert asked and "Nobody has replied" in asked[0]

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[data-action=resolve]")
    expect(page.locator("#status")).to_have_text("resolved")
    expect(customer_page.locator(f"{WIDGET} .status")).to_contain_text("resolved")
    customer_page.wait_for_timeout(300)
    expect(customer_page.locator(f"{WIDGET} .csat")).to_be_hidden()


def test_a_resolved_conversation_shows_its_rating_and_thumbs_in_the_resolved_view(
    live_server, page, customer_page
):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    customer = Customer(customer_page, live_server.url)
    customer.ask("How do I export my data as CSV?")
    customer_page.locator(f"{WIDGET} .thumb.down").click()
    conversation_id = customer.talk_to_a_person()
    sign_in(page, live_server, alice)
    claim(page, conversation_id)
    page.fill("#reply-text", "Fixed it for you.")
    page.click("#send-reply")
    expect(page.locator("#transcript .role-agent")).to_contain_text("Fixed it")
    page.click("button[data-action=resolve]")  # answered: no question asked
    expect(page.locator("#status")).to_have_text("resolved")

    csat = customer_page.locator(f"{WIDGET} .csat")
    expect(csat).to_be_visible()
    csat.get_by_role("button", name=re.compile("^4 of 5")).click()
    expect(csat).to_contain_text("Thanks for rating")

    # A CME coming back to the resolved view later (an open conversation gets the rating live:
    # test_shortcuts_unread_browser.py).
    page.goto(f"{live_server.url}/console")
    page.click("#views [data-view=resolved]")
    item = queue_item(page, conversation_id)
    expect(item).to_contain_text("resolved")
    expect(item.locator(".question")).to_have_text("How do I export my data as CSV?")
    item.click()
    expect(page.locator("#csat")).to_contain_text("4/5")
    expect(page.locator("#transcript .role-bot .badge.thumb.down")).to_be_visible()


def test_console_search_finds_a_conversation_by_a_word_from_its_middle(live_server, page):
    import httpx

    from tests.console.test_console_browser import Customer as RestCustomer

    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        grace = RestCustomer(http, name="Grace Hopper")
        grace.say("How do I export my data?")
        grace.say("Also the quokka import keeps failing on row 12")
        grace.say("thanks, bye")  # resolves it: it is in no open view
        other = RestCustomer(http, name="Ada Lovelace")
        other.say("Where can I download my invoices?")
    sign_in(page, live_server, alice)
    expect(queue_item(page, grace.id)).to_have_count(0)

    page.fill("#conversation-search", "quokka")
    page.press("#conversation-search", "Enter")
    item = queue_item(page, grace.id)
    expect(item).to_be_visible()
    expect(item.locator(".customer")).to_have_text("Grace Hopper")
    expect(item).to_contain_text("quokka import keeps failing")
    expect(queue_item(page, other.id)).to_have_count(0)
    item.click()
    expect(page.locator("#transcript")).to_contain_text("quokka import keeps failing")

    page.fill("#conversation-search", "")
    page.press("#conversation-search", "Enter")
    expect(queue_item(page, grace.id)).to_have_count(0)
