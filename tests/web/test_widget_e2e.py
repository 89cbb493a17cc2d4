"""End to end with the bundled model: a customer on another site asks, gets a cited answer,
says it did not help, asks for a person, chats with a CME live, reloads, and rates the chat."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bot.storage import Csat, store
from tests.web.widget_page import Widget, assert_shows_everything_once, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.real_model]


def test_cited_answer_feedback_handoff_live_cme_reply_reload_and_csat(real_site, host_pages, page):
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(host_pages.embed(real_site.url, title="Tallyo support"))
    widget = Widget(page)
    widget.open()

    widget.send("How do I reset my password?")
    answer = widget.bubbles("bot").last
    expect(widget.bubbles("bot")).to_have_count(1, timeout=20_000)
    citation = answer.locator("a.citation")
    expect(citation).to_have_attribute(
        "href", re.compile("^" + re.escape(real_site.url) + "/kb/account/reset-password")
    )
    expect(citation).to_have_attribute("rel", "noopener noreferrer")
    expect(answer).to_contain_text("password")

    answer.get_by_role("button", name="Not helpful").click()
    expect(answer.get_by_role("button", name="Not helpful")).to_have_attribute(
        "aria-pressed", "true"
    )
    conversation_id, _ = widget.conversation()
    answer_seq = int(answer.get_attribute("data-seq"))

    def marks() -> dict[int, bool]:
        with real_site.bot.db.read() as session:
            return store.helpful_marks(session, conversation_id=conversation_id)

    wait_for(lambda: marks() == {answer_seq: False}, message="the thumbs-down to be stored")

    widget.handoff.click()
    expect(widget.status).to_have_text(re.compile("Waiting for a person"))
    expect(widget.handoff).to_be_hidden()

    cme = real_site.cme("Casey")
    agent_api = f"/api/cme/conversations/{conversation_id}"
    with httpx.Client(base_url=real_site.url, headers=cme, timeout=30) as console:
        assert console.post(f"{agent_api}/claim").status_code == 200
        expect(widget.bubbles("system").last).to_have_text(
            "Casey from the support team has joined."
        )
        expect(widget.status).to_have_text(re.compile("chatting with the support team"))
        console.post(f"{agent_api}/typing", json={"on": True})
        expect(widget.typing).to_have_text(re.compile("Support team is typing"))
        reply = "Sorry about that! I've sent a fresh reset link to your email."
        assert console.post(f"{agent_api}/messages", json={"text": reply}).status_code == 200
        expect(widget.bubbles("agent")).to_have_text(re.compile(re.escape(reply)))
        expect(widget.typing).to_be_hidden()

        page.reload()
        expect(widget.panel).to_be_visible()
        assert_shows_everything_once(real_site, widget, conversation_id)
        restored = widget.bubbles("bot").first.get_by_role("button", name="Not helpful")
        expect(restored).to_have_attribute("aria-pressed", "true")

        assert console.post(f"{agent_api}/resolve").status_code == 200
    expect(widget.status).to_have_text(re.compile("resolved"))
    page.get_by_label("Anything to add?").fill("Quick and friendly")
    page.get_by_role("button", name=re.compile("^4 of 5")).click()
    expect(page.get_by_text("Thanks for rating this conversation!")).to_be_visible()
    with real_site.bot.db.read() as session:
        csat = session.scalars(select(Csat).where(Csat.conversation_id == conversation_id)).one()
    assert (csat.rating, csat.comment) == (4, "Quick and friendly")
    assert errors == []
