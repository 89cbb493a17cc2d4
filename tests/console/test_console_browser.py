"""The console in headless Chromium against the real app served by uvicorn."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from bot.storage import Escalation
from tests.console.conftest import PASSWORD, Cme, LiveServer, make_cme

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("SUPPORTBOT_CONSOLE_SCREENSHOTS")  # a folder; unset skips that test

XSS = [
    '<script>alert("script")</script>',
    '<img src=x onerror=alert("img")>',
    '<svg onload=alert("svg")><circle r="9"/></svg>',
    '"><script>alert("attribute")</script>',
    "'><img src=x onerror=alert('single')>",
    "javascript:alert('scheme')",
    "<a href=\"javascript:alert('link')\">click me</a>",
    "<iframe srcdoc=\"<script>alert('iframe')</script>\"></iframe>",
    "<details open ontoggle=alert('toggle')>x</details>",
    "</textarea><script>alert('textarea')</script>",
]
XSS_KB = {
    "billing/xss.md": """---
title: <img src=x onerror=alert("kb-title")> refund invoice trick
tags: [billing]
---
<script>alert("kb-body")</script> Refund invoice help: [click](javascript:alert('kb-link'))
<svg onload=alert("kb-svg")>

## "><img src=x onerror=alert('kb-section')>
Invoice refund details <iframe src="javascript:alert('kb-iframe')"></iframe>
""",
}

DOM_PROBLEMS = """() => {
  const problems = [];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on")) problems.push(`${el.tagName} ${name}`);
      const url = ["href", "src", "action", "formaction", "xlink:href", "srcdoc"].includes(name);
      if (url && /^\\s*javascript:/i.test(attr.value)) problems.push(`${el.tagName} ${name}`);
    }
  }
  for (const el of document.querySelectorAll("img, iframe, object, embed")) {
    problems.push(`unexpected ${el.tagName}`);
  }
  for (const el of document.querySelectorAll("script")) {
    const files = ["console-api.js", "console.js", "markdown.js", "canned.js", "attachments.js",
      "presence.js", "shortcuts.js", "teams.js", "insight.js"];
    const ours = files.map((file) => `/static/${file}`);
    if (!ours.includes(el.getAttribute("src"))) problems.push("unexpected SCRIPT");
  }
  for (const el of document.querySelectorAll("svg")) {
    if (!el.classList.contains("trend-chart")) problems.push("unexpected SVG");
  }
  return problems;
}"""


class Customer:
    """A customer on the REST channel."""

    def __init__(self, http: httpx.Client, **identity: str) -> None:
        body = {"customer": identity} if identity else {}
        created = http.post("/api/conversations", json=body)
        assert created.status_code == 201, created.text
        self.http = http
        self.id = created.json()["id"]
        self.headers = {"Authorization": f"Bearer {created.json()['token']}"}

    def say(self, text: str) -> dict:
        response = self.http.post(
            f"/api/conversations/{self.id}/messages", json={"text": text}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    def ask_for_a_human(self) -> None:
        response = self.http.post(f"/api/conversations/{self.id}/handoff", headers=self.headers)
        assert response.status_code == 200, response.text

    def messages(self) -> dict:
        return self.http.get(f"/api/conversations/{self.id}/messages", headers=self.headers).json()


@pytest.fixture
def http(live_server: LiveServer):
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


def sign_in(page: Page, server: LiveServer, cme: Cme) -> None:
    page.goto(f"{server.url}/console")
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console$"))
    page.fill("input[name=email]", cme.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/console")
    expect(page.locator("#connection")).to_have_text("live")
    expect(page.locator("#me")).to_have_text(cme.name)


def queue_item(page: Page, conversation_id: str):
    return page.locator(f'.queue-item[data-conversation-id="{conversation_id}"]')


def test_cme_takes_a_live_escalation_replies_and_resolves(live_server, page, http):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    bob = make_cme(live_server.app, email="bob@example.com", name="Bob Backup")
    sign_in(page, live_server, alice)
    expect(page.locator("#queue-empty")).to_be_visible()
    page.evaluate("window.loadedOnce = true")

    grace = Customer(http, name="Grace Hopper", email="grace@example.com")
    grace.say("Could you check the two payments on my annual plan?")
    grace.ask_for_a_human()

    item = queue_item(page, grace.id)
    expect(item).to_contain_text("Grace Hopper")
    expect(item).to_contain_text("waiting")
    assert page.evaluate("window.loadedOnce") is True  # it arrived live, without a reload

    item.click()
    expect(page).to_have_url(f"{live_server.url}/console/conversations/{grace.id}")
    page.click("button[data-action=claim]")
    expect(page.locator("#status")).to_have_text("claimed by you")
    expect(item).to_contain_text("claimed by you")

    expect(page.locator("#reasons")).to_contain_text("the customer pressed Talk to a person")
    expect(page.locator("#transcript .role-customer")).to_contain_text("two payments")
    expect(page.locator("#trend svg.trend-chart circle")).to_have_count(1)
    expect(page.locator("#summary .main-question")).to_contain_text("two payments")
    expect(page.locator("#conv-header")).to_contain_text("grace@example.com")
    expect(page.locator("#conv-header .sla")).to_contain_text("left to first reply")
    expect(page.locator("#retrieved .hits li").first).to_be_visible()
    page.locator("#transcript .role-customer details summary").first.click()
    expect(page.locator("#transcript .role-customer details table")).to_contain_text("complaint")

    reply = "Sorry about that, Grace. I have refunded the duplicate charge."
    page.fill("#reply-text", reply)
    page.click("#send-reply")
    expect(page.locator("#transcript .role-agent")).to_contain_text(reply)
    expect(page.locator("#conv-header .sla")).to_contain_text("first reply after")
    agent_turns = [m for m in grace.messages()["messages"] if m["role"] == "agent"]
    assert [m["text"] for m in agent_turns] == [reply]

    second = http.post(f"/api/cme/conversations/{grace.id}/claim", headers=bob.bearer)
    assert second.status_code == 409
    assert "already claimed" in second.json()["detail"]

    page.click("button[data-action=resolve]")
    expect(page.locator("#status")).to_have_text("resolved")
    expect(item).to_have_count(0)
    assert grace.messages()["status"] == "resolved"


def test_notes_canned_replies_vip_and_transfer(live_server, page, http):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    bob = make_cme(live_server.app, email="bob@example.com", name="Bob Backup")
    ada = Customer(http, name="Ada Lovelace")
    ada.say("How do I export my data?")
    ada.ask_for_a_human()
    sign_in(page, live_server, alice)
    queue_item(page, ada.id).click()
    page.click("button[data-action=claim]")
    expect(page.locator("#status")).to_have_text("claimed by you")

    page.fill("#reply-text", "Checked the export job: it is stuck on our side.")
    page.click("#add-note")
    expect(page.locator("#transcript .role-note")).to_contain_text("stuck on our side")
    assert all("stuck" not in m["text"] for m in ada.messages()["messages"])

    expect(page.locator("#suggestions .article").first).to_contain_text("export")
    page.fill("#canned-search", "invoices")
    result = page.locator("#article-results .article")
    expect(result).to_have_count(1)
    result.locator("button.insert").click()
    expect(page.locator("#reply-text")).to_have_value(
        re.compile(
            r"^Open \*\*Settings > Billing > Invoices\*\*.*\n\n"
            r"\[Where can I download my invoices\?\]\(http://.*/kb/billing/invoices\)$",
            re.S,
        )
    )
    page.click("#send-reply")
    # The canned reply renders as markdown: bold, and a link the customer can click.
    agent = page.locator("#transcript .role-agent").last
    expect(agent.locator("strong")).to_have_text("Settings > Billing > Invoices")
    expect(agent.locator("a")).to_have_text("Where can I download my invoices?")
    expect(agent.locator("a")).to_have_attribute(
        "href", re.compile(r"^http://127\.0\.0\.1:\d+/kb/billing/invoices$")
    )
    expect(agent).not_to_contain_text("**")
    last = ada.messages()["messages"][-1]
    assert last["text"].endswith("/kb/billing/invoices)")
    assert last["author"] == "Alice Agent"

    page.click("button[data-action=vip]")
    expect(queue_item(page, ada.id).locator(".badge.vip")).to_be_visible()
    expect(page.locator("button[data-action=vip]")).to_have_text("Unmark VIP")

    page.select_option("#transfer-to", str(bob.id))
    page.click("button[data-action=transfer]")
    expect(page.locator("#status")).to_have_text("claimed by Bob Backup")
    expect(page.locator("#send-reply")).to_be_disabled()
    expect(page.locator("#transcript .role-note").last).to_contain_text("transferred")


@pytest.mark.parametrize("extra_kb", [XSS_KB])
def test_hostile_text_stays_inert_in_the_console(live_server, page, http):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    mallory = Customer(http, name='"><img src=x onerror=alert("name")>', id="<svg onload=alert(1)>")
    for vector in XSS:
        mallory.say(vector)
    mallory.say("refund invoice trick please")
    mallory.ask_for_a_human()

    sign_in(page, live_server, alice)
    item = queue_item(page, mallory.id)
    expect(item.locator(".customer")).to_have_text('"><img src=x onerror=alert("name")>')
    item.click()
    page.click("button[data-action=claim]")
    expect(page.locator("#status")).to_have_text("claimed by you")
    for summary in page.locator("#transcript details summary").all():
        summary.click()
    for vector in XSS:
        expect(page.locator("#transcript")).to_contain_text(vector)
    page.fill("#canned-search", "refund invoice trick")
    expect(page.locator("#article-results .article")).to_contain_text(
        '<img src=x onerror=alert("kb-title")>'
    )
    page.locator("#article-results button.insert").click()
    page.fill("#reply-text", page.input_value("#reply-text") + "\n" + XSS[3])
    page.click("#send-reply")
    expect(page.locator("#transcript .role-agent")).to_contain_text(XSS[3])
    page.fill("#reply-text", XSS[1])
    page.click("#add-note")
    expect(page.locator("#transcript .role-note")).to_contain_text(XSS[1])
    page.wait_for_timeout(300)  # let any injected handler get its chance to run

    assert dialogs == []
    assert page.evaluate(DOM_PROBLEMS) == []


@pytest.mark.skipif(not SCREENSHOTS, reason="set SUPPORTBOT_CONSOLE_SCREENSHOTS=<folder>")
def test_console_screenshots(live_server, page, http):
    folder = Path(SCREENSHOTS or ".")
    folder.mkdir(parents=True, exist_ok=True)
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    bob = make_cme(live_server.app, email="bob@example.com", name="Bob Backup")
    grace = Customer(http, name="Grace Hopper", email="grace@example.com", id="cus_8841")
    grace.say("Hi, how do I download my invoices?")
    grace.say("The invoices page is empty, there is nothing to download")
    grace.say("This is ridiculous. I have asked twice already and still no invoice!!!")
    grace.ask_for_a_human()
    linus = Customer(http, name="Linus", email="linus@example.com")
    linus.say("How do I export my data?")
    linus.say("I need a person, the export never arrives")
    linus.ask_for_a_human()
    margaret = Customer(http, name="Margaret Hamilton", email="margaret@example.com")
    margaret.say("What is the refund policy for annual plans?")
    margaret.ask_for_a_human()
    http.post(f"/api/cme/conversations/{margaret.id}/claim", headers=bob.bearer)
    anonymous = Customer(http)
    anonymous.say("I can't reset my password, the link expired")
    anonymous.ask_for_a_human()
    with live_server.app.state.bot.db.write() as session:  # one long wait, to show a breach
        escalation = session.scalars(
            select(Escalation).where(Escalation.conversation_id == linus.id)
        ).one()
        escalation.created_at -= timedelta(minutes=7)
    http.post(f"/api/cme/conversations/{grace.id}/vip", json={"vip": True}, headers=bob.bearer)

    page.set_viewport_size({"width": 1440, "height": 1000})
    sign_in(page, live_server, alice)
    expect(page.locator(".queue-item")).to_have_count(4)
    page.screenshot(path=str(folder / "console-queue.png"))

    queue_item(page, grace.id).click()
    page.click("button[data-action=claim]")
    expect(page.locator("#status")).to_have_text("claimed by you")
    page.fill("#reply-text", "Hi Grace, I'm looking at your invoices now.")
    page.click("#send-reply")
    expect(page.locator("#transcript .role-agent")).to_be_visible()
    page.fill("#reply-text", "Invoices were not generated after the plan change; asked billing.")
    page.click("#add-note")
    expect(page.locator("#transcript .role-note")).to_be_visible()
    page.locator("#transcript .role-customer details summary").last.click()
    expect(page.locator("#suggestions .article").first).to_be_visible()
    page.screenshot(path=str(folder / "console-conversation.png"))
