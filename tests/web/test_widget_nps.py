"""In the widget (issue 15): a low CSAT asks why, every resolution is rated, NPS follows a
resolution when due, and an anonymous visitor is one customer per browser until reset()."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bot.storage import Conversation, Csat, Customer, NpsSurvey
from tests.web.widget_page import Widget

pytestmark = [pytest.mark.browser]


def customer_of(site, conversation_id: str) -> Customer:
    with site.bot.db.read() as session:
        conversation = session.get(Conversation, conversation_id)
        return session.get(Customer, conversation.customer_ref)


def test_low_csat_reason_then_nps_in_the_widget(site, host_pages, page):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(host_pages.embed(site.url))
    widget = Widget(page)
    widget.open()
    widget.send("How do I export my data?")
    expect(widget.bubbles("bot")).to_have_count(1, timeout=20_000)
    conversation_id, _ = widget.conversation()
    visitor = customer_of(site, conversation_id)
    assert visitor.visitor_id and visitor.external_id is None

    cme = site.cme("Casey")
    with httpx.Client(base_url=site.url, headers=cme, timeout=30) as console:
        resolved = console.post(f"/api/cme/conversations/{conversation_id}/resolve")
        assert resolved.status_code == 200
    expect(widget.status).to_have_text(re.compile("resolved"))

    page.get_by_role("button", name=re.compile("^2 of 5")).click()
    expect(page.get_by_text("What went wrong?")).to_be_visible()
    page.get_by_label("It took too long").check()
    page.get_by_label("Anything to add?").fill("waited ages")
    page.get_by_role("button", name="Send rating").click()
    expect(page.get_by_text("Thanks for rating this conversation!")).to_be_visible()

    expect(page.get_by_text("How likely are you to recommend us")).to_be_visible()
    with site.bot.db.read() as session:  # shown, not only asked: in the response rate's base
        shown = session.scalars(
            select(NpsSurvey.shown_at).where(NpsSurvey.conversation_id == conversation_id)
        ).one()
    assert shown is not None
    page.get_by_label("Why?").fill("the docs are good")
    page.get_by_role("button", name="9 of 10").click()
    expect(page.get_by_text("Thanks for your answer!")).to_be_visible()

    with site.bot.db.read() as session:
        csat = session.scalars(select(Csat).where(Csat.conversation_id == conversation_id)).one()
        survey = session.scalars(
            select(NpsSurvey).where(NpsSurvey.conversation_id == conversation_id)
        ).one()
    assert (csat.rating, csat.reason, csat.comment) == (2, "too_slow", "waited ages")
    assert (survey.score, survey.comment, survey.channel) == (9, "the docs are good", "web")

    # The customer writes again: the conversation reopens, and its next resolution is rated anew.
    widget.send("Where can I download my invoices?")
    expect(widget.bubbles("bot")).to_have_count(2, timeout=20_000)
    with httpx.Client(base_url=site.url, headers=cme, timeout=30) as console:
        assert console.post(f"/api/cme/conversations/{conversation_id}/resolve").status_code == 200
    page.get_by_role("button", name=re.compile("^5 of 5")).click()
    expect(page.get_by_text("Thanks for rating this conversation!")).to_be_visible()
    # NPS was answered this quarter: not asked again.
    expect(page.get_by_text("How likely are you to recommend us")).to_have_count(0)
    with site.bot.db.read() as session:
        ratings = session.scalars(
            select(Csat.rating).where(Csat.conversation_id == conversation_id).order_by(Csat.id)
        ).all()
    assert ratings == [2, 5]

    # The browser's visitor id names the same customer for its next conversation ...
    kept = page.evaluate(
        "() => localStorage.getItem(Object.keys(localStorage)"
        ".find(k => k.startsWith('supportbot-visitor:')))"
    )
    again = httpx.post(site.url + "/api/conversations", json={"visitor_id": kept}).json()
    assert customer_of(site, again["id"]).id == visitor.id
    # ... until reset() (sign-out): then the browser is a new visitor.
    page.evaluate("() => window.supportbotWidget.reset()")
    widget.send("How do I reset my password?")
    expect(widget.bubbles("bot")).to_have_count(1, timeout=20_000)
    after_reset, _ = widget.conversation()
    assert customer_of(site, after_reset).id != visitor.id
    assert errors == []
