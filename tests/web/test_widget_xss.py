"""Hostile markup in customer text and in KB answers executes nothing in the widget."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.widget_page import Widget
from tests.web.xss_vectors import VECTORS

pytestmark = pytest.mark.browser

# Each KB article carries a few vectors; its marker word (distinct 5-letter stems, which is
# what the fake embedder matches on) makes the bot pick it.
MARKERS = ["aardvark", "bison", "cheetah", "dingo", "emu", "ferret", "gecko", "hyena", "ibex",
           "jackal", "koala", "lemur", "meerkat", "narwhal"]  # fmt: skip
GROUPS = [VECTORS[i : i + 4] for i in range(0, len(VECTORS), 4)]
SITE_KB = {
    f"samples/{marker}.md": f"---\ntitle: {marker} samples\n---\n{marker} sample lines.\n\n"
    + "\n\n".join(group)
    + "\n"
    for marker, group in zip(MARKERS, GROUPS, strict=False)
}
SITE_KB["samples/okapi.md"] = """---
title: okapi formatting
---
Okapi formatting: **bold words**, *italic words*, `inline code` and \\*escaped stars\\*.
See [the invoices article](../billing/invoices.md#downloads), [our site](https://tallyo.example/help)
or [write to us](mailto:help@tallyo.example).

- first point
- second point with **bold**

3. third step
4. fourth step
"""
SITE_SETTINGS = {"answer_threshold": 0.0, "rate_limit_enabled": False}

ALARMS = """
window.__xss = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = (...args) => {
    const note = name + "(" + args.join(",") + ")";
    try { window.top.__xss.push(note); } catch (_) { window.__xss.push(note); }
  };
}
"""

DOM_PROBLEMS = """() => {
  const root = document.querySelector('#supportbot-widget').shadowRoot;
  const problems = [];
  const scan = (elements, where) => {
    for (const el of elements) {
      for (const attr of el.attributes) {
        const name = attr.name.toLowerCase();
        const value = attr.value.replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
        if (name.startsWith('on')) problems.push(`${where} <${el.localName}> has ${name}`);
        if (/^(javascript|vbscript|data):/.test(value)) {
          problems.push(`${where} <${el.localName} ${name}=${attr.value}>`);
        }
      }
    }
  };
  scan(root.querySelectorAll('*'), 'widget');
  scan(document.querySelectorAll('*'), 'page');
  const allowed = new Set(['div', 'span', 'p', 'strong', 'em', 'code', 'pre', 'ul', 'ol', 'li', 'a',
                           'blockquote', 'hr', 'button', 'svg', 'path', 'i', 'br', 'table',
                           'thead', 'tbody', 'tr', 'th', 'td']);
  for (const el of root.querySelectorAll('.log *')) {
    if (!allowed.has(el.localName)) problems.push(`unexpected <${el.localName}> in the log`);
  }
  for (const a of root.querySelectorAll('a')) {
    if (!/^(https?:|mailto:)/.test(a.href)) problems.push(`link to ${a.href}`);
    if (a.target === '_blank' && !a.relList.contains('noopener')) problems.push('no noopener');
  }
  return problems;
}"""


def arm(page: Page) -> list[str]:
    """Record anything that looks like script execution: dialogs and alarm calls."""
    fired: list[str] = []
    page.add_init_script(ALARMS)

    def on_dialog(dialog) -> None:
        fired.append(f"dialog {dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: fired.append(f"page error: {error}"))
    return fired


def assert_nothing_ran(page: Page, fired: list[str]) -> None:
    page.locator("#supportbot-widget .log").hover()  # would trigger any onmouseover
    page.wait_for_timeout(300)  # let image errors and timers fire
    assert fired == []
    assert page.evaluate("window.__xss") == []
    assert page.evaluate(DOM_PROBLEMS) == []


def is_plain_html(vector: str) -> bool:
    """Vectors without markdown syntax must show up literally, character for character."""
    return not any(mark in vector for mark in "*_`[]\\")


def test_xss_in_kb_answers_is_shown_as_inert_text(site, host_pages, page):
    fired = arm(page)
    page.goto(host_pages.embed(site.url))
    widget = Widget(page)
    widget.open()
    for count, marker in enumerate(MARKERS[: len(GROUPS)], start=1):
        widget.send(f"{marker} sample lines")
        expect(widget.bubbles("bot")).to_have_count(count)
    answers = "\n".join(m.text for m in widget.shown() if m.role == "bot")
    missing = [v for v in VECTORS if is_plain_html(v) and v not in answers]
    assert missing == []
    expect(page.locator("#supportbot-widget .log a.citation")).to_have_count(len(GROUPS))
    assert_nothing_ran(page, fired)


def test_xss_in_customer_text_is_shown_verbatim_and_runs_nothing(site, host_pages, page):
    fired = arm(page)
    page.goto(host_pages.embed(site.url))
    widget = Widget(page)
    widget.open()
    typed, posted = VECTORS[:3], VECTORS[3:]
    for count, vector in enumerate(typed, start=1):
        widget.send(vector)
        expect(widget.bubbles("customer")).to_have_count(count)
    conversation_id, token = widget.conversation()
    with httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {token}"}) as client:
        for vector in posted:  # like a second tab: these arrive over the socket
            response = client.post(
                f"/api/conversations/{conversation_id}/messages", json={"text": vector}
            )
            assert response.status_code == 200, response.text
    expect(widget.bubbles("customer")).to_have_count(len(VECTORS))
    shown = [m.text for m in widget.shown() if m.role == "customer"]
    assert shown == [vector.strip() for vector in VECTORS]
    assert_nothing_ran(page, fired)


def test_markdown_answers_render_allow_listed_formatting_and_safe_links(site, host_pages, page):
    page.goto(host_pages.embed(site.url))
    widget = Widget(page)
    widget.open()
    widget.send("okapi formatting")
    answer = widget.bubbles("bot").locator(".body")
    expect(answer.locator("strong").first).to_have_text("bold words")
    expect(answer.locator("em")).to_have_text("italic words")
    expect(answer.locator("code")).to_have_text("inline code")
    expect(answer).to_contain_text("*escaped stars*")
    expect(answer.locator("ul > li")).to_have_count(2)
    expect(answer.locator("ol")).to_have_attribute("start", "3")
    links = answer.locator("a").evaluate_all(
        "links => links.map(a => [a.textContent, a.href, a.target, a.rel])"
    )
    assert links[:3] == [
        [
            "the invoices article",
            f"{site.url}/kb/billing/invoices#downloads",
            "_blank",
            "noopener noreferrer",
        ],
        ["our site", "https://tallyo.example/help", "_blank", "noopener noreferrer"],
        ["write to us", "mailto:help@tallyo.example", "_blank", "noopener noreferrer"],
    ]
    assert links[3][1].startswith(f"{site.url}/kb/samples/okapi")  # the citation
