"""Block markdown in answers and CME replies: tables render as tables, on a desktop and a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.widget_page import WIDGET, Widget

pytestmark = pytest.mark.browser

SITE_KB = {
    "billing/quokka-plans.md": """---
title: Quokka plans
---
Quokka plans compared, per user and month.

| Plan | Monthly billing | Annual billing | Best for |
| --- | ---: | ---: | --- |
| **Free** | $0 | $0 | Freelancers getting started with their first clients |
| **Starter** | $12 per user | $10 per user/month | Small teams up to 10 users |
| **Pro** | $24 per user | $20 per user/month | Growing teams that need integrations |
| **Business** | $39 per user | $32 per user/month | Larger companies with security needs |

Prices exclude tax \\| VAT.

1. Choose a plan:
   - **Starter** for small teams
   - **Pro** for integrations
2. Pay by card.
""",
}
SITE_SETTINGS = {"answer_threshold": 0.0, "rate_limit_enabled": False}

TABLE_GEOMETRY = """() => {
  const root = document.querySelector('#supportbot-widget').shadowRoot;
  const box = root.querySelector('.msg[data-role=bot] .table-scroll');
  const panel = root.querySelector('.panel').getBoundingClientRect();
  const rect = box.getBoundingClientRect();
  return {left: rect.left, right: rect.right, panelLeft: panel.left, panelRight: panel.right,
          scrollWidth: box.scrollWidth, clientWidth: box.clientWidth,
          pageOverflow: document.documentElement.scrollWidth > window.innerWidth};
}"""


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (360, 740)])
def test_a_table_article_renders_as_a_table_that_fits_the_panel(
    site, host_pages, browser, width, height
):
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        page.goto(host_pages.embed(site.url))
        widget = Widget(page)
        widget.open()
        widget.send("quokka plans")
        answer = widget.bubbles("bot").locator(".body")
        table = answer.locator("table")
        expect(table).to_have_count(1)
        expect(table.locator("thead th")).to_have_text(
            ["Plan", "Monthly billing", "Annual billing", "Best for"]
        )
        expect(table.locator("tbody tr")).to_have_count(4)
        expect(table.locator("tbody tr").nth(2).locator("td").first.locator("strong")).to_have_text(
            "Pro"
        )
        expect(table.locator("tbody tr").nth(2).locator("td").nth(1)).to_have_class("align-right")
        expect(answer).not_to_contain_text("| ---")
        expect(answer).to_contain_text("Prices exclude tax | VAT.")
        expect(answer.locator("ol > li")).to_have_count(2)
        expect(answer.locator("ol > li").first.locator("ul > li")).to_have_count(2)
        geometry = page.evaluate(TABLE_GEOMETRY)
        assert geometry["left"] >= geometry["panelLeft"] - 0.5
        assert geometry["right"] <= geometry["panelRight"] + 0.5
        assert not geometry["pageOverflow"]
        if width == 360:  # too wide for a phone: the table scrolls inside its own box
            assert geometry["scrollWidth"] > geometry["clientWidth"]
            box = page.locator(f"{WIDGET} .msg[data-role=bot] .table-scroll")
            box.focus()
            box.press("ArrowRight")
            expect(box).to_have_js_property("tabIndex", 0)
    finally:
        context.close()


def test_a_cme_reply_renders_its_markdown_link_and_keeps_line_breaks(site, host_pages, page):
    page.goto(host_pages.embed(site.url))
    widget = Widget(page)
    widget.open()
    widget.send("quokka plans")
    expect(widget.bubbles("bot")).to_have_count(1)
    conversation_id, token = widget.conversation()
    headers = site.cme("Robin")
    with site.client() as client:
        handoff = client.post(
            f"/api/conversations/{conversation_id}/handoff",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert handoff.status_code == 200, handoff.text
        path = f"/api/cme/conversations/{conversation_id}"
        assert client.post(f"{path}/claim", headers=headers).status_code == 200
        reply = "Hi!\nSee **[Quokka plans](https://tallyo.example/kb/plans)** for prices."
        response = client.post(f"{path}/messages", json={"text": reply}, headers=headers)
        assert response.status_code == 200, response.text
    agent = widget.bubbles("agent").locator(".body")
    expect(agent.locator("a")).to_have_attribute("href", "https://tallyo.example/kb/plans")
    expect(agent.locator("strong a, a strong").first).to_have_text("Quokka plans")
    expect(agent.locator("br")).to_have_count(1)
    expect(agent).not_to_contain_text("**")
