"""The widget's look, words and waiting flow: one name and greeting, the browser's language, the
real wait (honest once the SLA has passed), an email address for a follow-up, and withdrawing."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bot.storage import Conversation
from tests.web.widget_page import WIDGET, Widget

pytestmark = pytest.mark.browser

SITE_SETTINGS = {"sla_first_response_s": 4, "bot_name": "Tallyo's assistant"}


def test_one_name_one_greeting_and_the_look_from_data_attributes(site, host_pages, page):
    page.goto(host_pages.embed(site.url, accent="#0f766e"))
    widget = Widget(page)
    widget.open()
    greeting = page.locator(f"{WIDGET} .msg.greeting")
    expect(greeting).to_have_count(1)
    expect(greeting).to_contain_text("Hi! I'm Tallyo's assistant.")
    widget.send("hi")
    bot = widget.bubbles("bot")
    expect(bot).to_have_count(1)
    expect(bot.locator(".body")).to_have_text("Hi! What can I help you with?")
    expect(bot.locator(".who")).to_have_text("Tallyo's assistant")
    expect(page.locator(f"{WIDGET} .panel header")).to_have_css(
        "background-color", "rgb(15, 118, 110)"
    )


@pytest.mark.parametrize(
    ("locale", "talk", "launcher"),
    [
        ("de-DE", "Mit einer Person sprechen", "Support-Chat öffnen"),
        ("es-MX", "Hablar con una persona", "Abrir el chat de soporte"),
        ("fr-CA", "Parler à une personne", "Ouvrir le chat d'assistance"),
        ("zh-CN", "联系人工客服", "打开客服聊天"),
        ("pt-BR", "Talk to a person", "Open support chat"),
    ],
)
def test_labels_follow_the_browsers_language_with_english_as_fallback(
    site, host_pages, browser, locale, talk, launcher
):
    context = browser.new_context(locale=locale)
    try:
        page = context.new_page()
        page.goto(host_pages.embed(site.url))
        expect(page.locator(f"{WIDGET} .launcher")).to_have_attribute("aria-label", launcher)
        page.locator(f"{WIDGET} .launcher").click()
        expect(page.get_by_role("button", name=talk)).to_be_visible()
    finally:
        context.close()


def queue_someone_else(site) -> None:
    with httpx.Client(base_url=site.url) as client:
        created = client.post("/api/conversations").json()
        headers = {"Authorization": f"Bearer {created['token']}"}
        client.post(f"/api/conversations/{created['id']}/handoff", headers=headers)


def test_the_wait_is_honest_after_the_sla_and_asks_for_an_email(site, host_pages, page):
    queue_someone_else(site)
    page.goto(host_pages.embed(site.url))
    widget = Widget(page)
    widget.open()
    widget.send("How do I export my data?")
    expect(widget.bubbles("bot")).to_have_count(1)
    widget.handoff.click()
    wait = page.locator(f"{WIDGET} .waiting .wait-text")
    expect(wait).to_have_text(
        "A person usually replies within 1 minute. You're number 2 in line.", timeout=3_000
    )
    email = page.locator(f"{WIDGET} #sb-email")
    expect(email).to_be_hidden()
    # 4 s later the SLA has passed: the widget says so, and asks for an address.
    expect(wait).to_contain_text("This is taking longer than usual", timeout=12_000)
    expect(email).to_be_visible()
    email.fill("sam@example.com")
    email.press("Enter")
    expect(page.locator(f"{WIDGET} .waiting .email-note")).to_have_text(
        "Thanks! We'll also reply to sam@example.com."
    )
    expect(email).to_be_hidden()
    conversation_id, _ = widget.conversation()
    with site.bot.db.read() as session:
        stored = session.scalars(select(Conversation).where(Conversation.id == conversation_id))
        assert stored.one().customer_email == "sam@example.com"


def test_withdrawing_goes_back_to_the_assistant(site, host_pages, page):
    page.goto(host_pages.embed(site.url))
    widget = Widget(page)
    widget.open()
    widget.send("How do I export my data?")
    expect(widget.bubbles("bot")).to_have_count(1)
    widget.handoff.click()
    expect(widget.status).to_contain_text("Waiting for a person")
    page.get_by_role("button", name="Keep chatting with the assistant").click()
    expect(widget.status).to_have_text("Our assistant answers right away")
    expect(page.locator(f"{WIDGET} .waiting")).to_be_hidden()
    expect(widget.handoff).to_be_visible()
    conversation_id, token = widget.conversation()
    with httpx.Client(base_url=site.url) as client:
        seen = client.get(
            f"/api/conversations/{conversation_id}/messages",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    assert seen["status"] == "bot"
    widget.send("How do I reset my password?")
    expect(widget.bubbles("bot")).to_have_count(2)
    expect(widget.bubbles("bot").last.locator(".body")).to_contain_text(re.compile(r"\w"))
