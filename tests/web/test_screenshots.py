"""Screenshots of the widget for the docs: `make screenshots` (pytest ... --screenshots).

Written to docs/screenshots/widget-<state>-<desktop|mobile>.png from the demo page, answered
by the bundled model. Skipped unless --screenshots is given (see conftest.py).
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.utils import REPO
from tests.web.widget_page import Widget

pytestmark = [pytest.mark.browser, pytest.mark.real_model]

SHOTS = REPO / "docs" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "mobile": {"width": 360, "height": 740}}


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_widget_screenshots(real_site, browser, viewport):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORTS[viewport], device_scale_factor=1)
    try:
        page = context.new_page()
        page.goto(real_site.url + "/")
        widget = Widget(page)

        def shot(state: str) -> None:
            page.wait_for_timeout(250)  # let the typing dots and scrolling settle
            page.screenshot(path=SHOTS / f"widget-{state}-{viewport}.png")

        widget.open()
        shot("open")

        widget.send("How do I reset my password?")
        expect(widget.bubbles("bot")).to_have_count(1, timeout=20_000)
        shot("answering")

        widget.handoff.click()
        expect(widget.status).to_have_text(re.compile("Waiting for a person"))
        conversation_id, _ = widget.conversation()
        agent_api = f"/api/cme/conversations/{conversation_id}"
        with httpx.Client(
            base_url=real_site.url, headers=real_site.cme("Casey"), timeout=30
        ) as console:
            console.post(f"{agent_api}/claim")
            console.post(
                f"{agent_api}/messages",
                json={"text": "Hi, I'm Casey. The reset email bounced; let me fix that for you."},
            )
            expect(widget.bubbles("agent")).to_have_count(1)
            console.post(f"{agent_api}/typing", json={"on": True})
            expect(widget.typing).to_be_visible()
            shot("escalated")

            console.post(
                f"{agent_api}/messages", json={"text": "Done! The new link is on its way."}
            )
            console.post(f"{agent_api}/resolve")
        expect(page.get_by_role("button", name=re.compile("^5 of 5"))).to_be_visible()
        page.get_by_role("button", name=re.compile("^4 of 5")).hover()
        shot("csat")
    finally:
        context.close()
