"""Keyboard use around a handoff: the focus stays in the panel, and Esc still closes it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.widget_page import Widget

pytestmark = pytest.mark.browser

FOCUSED = """() => {
  const root = document.querySelector('#supportbot-widget').shadowRoot;
  const el = root.activeElement;
  return el ? (el.id || el.className) : document.activeElement.localName;
}"""


def test_talk_to_a_person_by_keyboard_keeps_focus_in_the_widget_and_esc_closes(
    site, host_pages, page
):
    page.goto(host_pages.embed(site.url))
    widget = Widget(page)
    page.keyboard.press("Tab")  # the launcher is the page's only focusable control
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    assert page.evaluate(FOCUSED) == "sb-input"
    page.keyboard.press("Shift+Tab")  # from the input back to "Talk to a person"
    assert page.evaluate(FOCUSED) == "handoff"
    page.keyboard.press("Enter")
    expect(widget.status).to_contain_text("Waiting for a person")
    expect(widget.handoff).to_be_hidden()
    assert page.evaluate(FOCUSED) == "sb-input"
    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    assert page.evaluate(FOCUSED) == "launcher"


def test_esc_closes_the_panel_even_when_the_focus_fell_to_the_page(site, host_pages, page):
    page.goto(host_pages.embed(site.url))
    widget = Widget(page)
    widget.open()
    page.evaluate("document.activeElement.blur(); document.body.focus()")
    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
