"""Insight in headless Chromium: an early-warning alert appears live on the console (banner) and
on the insight page, and a CME acknowledges it there (recorded)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from bot.cme.alerts import _store
from bot.storage import Alert, utcnow
from tests.console.conftest import make_cme
from tests.console.test_console_browser import sign_in

pytestmark = pytest.mark.browser


def raise_alert(app, title: str) -> int:
    bot = app.state.bot
    with bot.db.write() as session:
        alert = _store(
            bot,
            session,
            "volume_spike",
            title,
            {"observed": 14, "expected": 1.2, "ratio": 11.7, "z": 7.1},
            [],
            None,
            None,
            utcnow(),
        )
        return alert.id


def test_an_alert_appears_live_and_is_acknowledged(live_server, page):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    sign_in(page, live_server, alice)
    expect(page.locator("#alert-banner")).to_have_count(0)

    alert_id = raise_alert(live_server.app, "questions on all questions: 14 in 15 min")
    banner = page.locator("#alert-banner")
    expect(banner).to_contain_text("1 open alert")  # no reload: the page polls
    expect(banner).to_contain_text("14 in 15 min")

    banner.get_by_role("link", name="All alerts").click()
    item = page.locator(f'.alert[data-alert-id="{alert_id}"]')
    expect(item).to_contain_text("expected 1.2")
    expect(item.locator(".alert-status")).to_have_text("open")
    item.get_by_role("button", name="Acknowledge").click()
    expect(item.locator(".alert-status")).to_have_text("acknowledged")
    expect(page.locator("#alert-banner")).to_have_count(0)

    with live_server.app.state.bot.db.read() as session:
        alert = session.get(Alert, alert_id)
        assert alert.acknowledged_by == alice.id
        assert alert.acknowledged_at is not None
