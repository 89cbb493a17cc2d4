"""Drive the embedded widget in a Playwright page, and read what the server stored."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from playwright.sync_api import Page, expect

from bot.storage import store
from tests.web.conftest import Site

WIDGET = "#supportbot-widget"


@dataclass(frozen=True)
class Shown:
    """A message as the widget shows it."""

    seq: int
    role: str
    text: str


class Widget:
    """The widget on a page; Playwright's CSS and role locators pierce its open shadow root."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.locator(f"{WIDGET} .launcher")
        self.panel = page.locator(f"{WIDGET} .panel")
        self.input = page.get_by_role("textbox", name=re.compile("^Message to"))
        self.log = page.get_by_role("log")
        self.notice = page.locator(f"{WIDGET} .notice")
        self.typing = page.locator(f"{WIDGET} .typing")
        self.status = page.locator(f"{WIDGET} .status")
        self.handoff = page.get_by_role("button", name="Talk to a person")

    def open(self) -> None:
        self.launcher.click()
        expect(self.panel).to_be_visible()

    def send(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def bubbles(self, role: str) -> object:
        return self.page.locator(f"{WIDGET} .log .msg[data-role={role}]")

    def shown(self) -> list[Shown]:
        """Every server message in the widget, in DOM order."""
        rows = self.page.evaluate(
            """() => [...document.querySelector('#supportbot-widget').shadowRoot
                  .querySelectorAll('.log [data-seq]')]
                .map(el => [Number(el.dataset.seq), el.dataset.role,
                            el.querySelector('.body').textContent])"""
        )
        return [Shown(seq, role, text) for seq, role, text in rows]

    def conversation(self) -> tuple[str, str]:
        """The (id, token) the widget keeps in localStorage."""
        saved = self.page.evaluate(
            """() => { const key = Object.keys(localStorage).find(k => k.startsWith('supportbot:'));
                       return key ? JSON.parse(localStorage.getItem(key)) : null; }"""
        )
        assert saved and saved.get("id"), f"the widget has no conversation yet: {saved}"
        return saved["id"], saved["token"]

    def wait_until_shows(self, seqs: list[int], timeout_s: float = 15) -> list[Shown]:
        """Wait until the widget shows exactly these seqs, in this order."""
        deadline = time.monotonic() + timeout_s
        shown = self.shown()
        while [m.seq for m in shown] != seqs and time.monotonic() < deadline:
            self.page.wait_for_timeout(100)
            shown = self.shown()
        assert [m.seq for m in shown] == seqs, (
            f"widget shows {[m.seq for m in shown]}, expected {seqs}"
        )
        return shown


def stored(site: Site, conversation_id: str) -> list[Shown]:
    """The conversation's customer-visible messages as the server has them."""
    with site.bot.db.read() as session:
        return [
            Shown(m.seq, str(m.role), m.text)
            for m in store.list_messages(session, conversation_id=conversation_id)
        ]


def assert_shows_everything_once(site: Site, widget: Widget, conversation_id: str) -> list[int]:
    """The widget shows the stored conversation: every message once, in seq order."""
    expected = stored(site, conversation_id)
    shown = widget.wait_until_shows([m.seq for m in expected])
    assert [m.role for m in shown] == [m.role for m in expected]
    plain = [(m.seq, m.text) for m in expected if m.role != "bot"]  # bot text is rendered markdown
    assert [(m.seq, m.text) for m in shown if m.role != "bot"] == plain
    return [m.seq for m in expected]


def wait_for(
    condition, *, page: Page | None = None, timeout_s: float = 10, message: str = "condition"
) -> None:
    """Poll a condition from the test thread; with `page`, Playwright's callbacks keep running."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        if page is not None:
            page.wait_for_timeout(50)  # the sync API only dispatches events inside its calls
        else:
            time.sleep(0.05)
