"""The insight dashboard in headless Chromium: charts drawn from data, drill-down to the
conversations, CSV download."""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bot.cme.insights import DASHBOARD, Window, drill_down
from bot.cme.insights.service import refresh_insights
from bot.cme.insights.synthetic import Traffic, write
from bot.storage import utcnow
from tests.console.conftest import PASSWORD, make_cme

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("SUPPORTBOT_CONSOLE_SCREENSHOTS")  # a folder for the README's


@pytest.fixture
def traffic(live_server):
    bot = live_server.app.state.bot
    now = utcnow()
    generator = Traffic(start=now - timedelta(days=20), end=now - timedelta(days=1), customers=30)
    for batch in generator.batches(150, size=150):
        write(bot.db, batch)
    assert refresh_insights(bot) >= 150
    return bot


def test_dashboard_draws_figures_drills_down_and_downloads_csv(live_server, page, traffic):
    cme = make_cme(live_server.app, email="ana@example.com", name="Ana")
    page.goto(f"{live_server.url}/console/insights")
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console/insights$"))
    page.fill("input[name=email]", cme.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/console/insights")

    bot = traffic
    end = bot.clock().date()
    window = Window(
        start=bot.clock().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=29),
        end=bot.clock().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1),
    )
    with bot.db.read() as session:
        resolution = DASHBOARD["resolution"](session, window)
        _, escalated = drill_down(session, window, "escalated")
        heat = DASHBOARD["volume"](session, window)["hour_of_week"]
    assert resolution["denominator"] > 50

    confirmed = page.locator('.figure[data-drill="confirmed"]')
    expect(confirmed).to_contain_text(
        f"{resolution['confirmed']['count']} of {resolution['denominator']}"
    )
    expect(confirmed).to_have_attribute("title", re.compile("thumbs-up"))
    expect(page.locator("#end")).to_have_value(end.isoformat())
    # Charts are drawn from the data: bars by day, and a heatmap with busy hours coloured.
    assert page.locator("svg.chart rect.bar-part").count() > 20
    assert page.locator("svg.heatmap rect.heat-cell").count() == 7 * 24
    expect(page.locator("#nps-slot")).to_contain_text("Not collected yet")

    page.locator('.figure[data-drill="escalated"]').click()
    expect(page.locator("#drill-title")).to_contain_text(f"{len(escalated)} conversations")
    expect(page.locator("#drill-rows tr")).to_have_count(len(escalated))
    with page.expect_download() as download:
        page.click("#drill-csv")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert {r["conversation_id"] for r in rows} == {r["conversation_id"] for r in escalated}

    busiest = max(range(168), key=lambda hour: heat[hour // 24][hour % 24])
    count = heat[busiest // 24][busiest % 24]
    page.locator(f'svg.heatmap rect[data-drill="counted&hour={busiest}"]').dispatch_event("click")
    expect(page.locator("#drill-title")).to_contain_text(f"{count} conversation")
    expect(page.locator("#drill-rows tr")).to_have_count(count)
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "console-insights.png"), full_page=True)

    page.locator('.figure[data-drill="escalated"]').click()
    first = escalated[0]["conversation_id"]
    page.locator("#drill-rows a").first.click()
    expect(page).to_have_url(f"{live_server.url}/console/conversations/{first}")
