"""Keyboard use, ARIA roles, small screens, style isolation and the app's strict CSP."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.web.widget_page import Widget

pytestmark = pytest.mark.browser

ACTIVE_IN_WIDGET = """() => {
  const active = document.querySelector('#supportbot-widget').shadowRoot.activeElement;
  return active ? (active.getAttribute('aria-label') || active.id || active.localName) : null;
}"""
CSP_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  event => window.__csp.push(event.violatedDirective + ' ' + event.blockedURI));
"""


def test_widget_works_from_the_keyboard_alone(site, host_pages, page):
    page.goto(host_pages.embed(site.url))
    widget = Widget(page)
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE_IN_WIDGET) == "Open support chat"
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    assert page.evaluate(ACTIVE_IN_WIDGET) == "sb-input"
    page.keyboard.type("How do I export my data?")
    page.keyboard.press("Enter")
    expect(widget.bubbles("bot")).to_have_count(1)
    helpful = widget.bubbles("bot").get_by_role("button", name="Helpful", exact=True)
    helpful.focus()
    page.keyboard.press("Enter")
    expect(helpful).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    assert page.evaluate(ACTIVE_IN_WIDGET) == "Open support chat"
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")


def test_roles_and_labels_describe_the_chat(site, host_pages, page):
    page.goto(host_pages.embed(site.url, title="Tallyo support"))
    widget = Widget(page)
    widget.open()
    expect(page.get_by_role("dialog", name="Tallyo support")).to_be_visible()
    expect(widget.log).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("textbox", name="Message to Tallyo support")).to_be_editable()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(widget.launcher).to_have_attribute("aria-expanded", "true")
    widget.send("How do I export my data?")
    expect(page.get_by_role("group", name="Was this answer helpful?")).to_be_visible()


def test_readable_and_contained_at_320_px(site, host_pages, browser):
    context = browser.new_context(viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        page.goto(host_pages.embed(site.url))
        widget = Widget(page)
        widget.open()
        widget.send("Whereismyinvoice" * 12)  # one long word must wrap, not scroll sideways
        widget.send("How do I export my data?")
        expect(widget.bubbles("bot")).to_have_count(2)
        box = widget.panel.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320
        layout = page.evaluate(
            """() => {
              const root = document.querySelector('#supportbot-widget').shadowRoot;
              const log = root.querySelector('.log');
              const body = root.querySelector('.msg.bot:not(.greeting) .body');
              return { overflow: log.scrollWidth - log.clientWidth,
                       fontSize: parseFloat(getComputedStyle(body).fontSize),
                       pageOverflow: document.documentElement.scrollWidth - innerWidth };
            }"""
        )
        assert layout["overflow"] <= 0 and layout["pageOverflow"] <= 0
        assert layout["fontSize"] >= 14
        expect(page.get_by_role("button", name="Talk to a person")).to_be_in_viewport()
    finally:
        context.close()


def test_host_page_styles_do_not_reach_into_the_widget(site, host_pages, page):
    page.goto(host_pages.embed(site.url))  # its CSS hides buttons and recolours everything
    widget = Widget(page)
    expect(widget.launcher).to_be_visible()
    widget.open()
    styles = page.evaluate(
        """() => {
          const root = document.querySelector('#supportbot-widget').shadowRoot;
          const greeting = getComputedStyle(root.querySelector('.greeting .body'));
          return { font: greeting.fontFamily, color: greeting.color };
        }"""
    )
    assert "Comic Sans" not in styles["font"]
    assert styles["color"] != "rgb(255, 0, 255)"


def test_demo_page_runs_the_widget_under_the_strict_csp(site, page):
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.add_init_script(CSP_WATCH)
    response = page.goto(site.url + "/")
    assert "style-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_role("heading", name=re.compile("Track time"))).to_be_visible()
    widget = Widget(page)
    widget.open()
    widget.send("How do I export my data?")
    expect(widget.bubbles("bot")).to_have_count(1)
    expect(widget.bubbles("bot").locator("a.citation")).to_have_count(1)
    assert page.evaluate("window.__csp") == []
    assert errors == []
