"""Screenshots of the widget for the docs: `make screenshots` (pytest ... --screenshots).

Written to docs/screenshots/widget-<state>-<desktop|mobile>.png from the demo page, answered
by the bundled model. Skipped unless --screenshots is given (see conftest.py).
"""

from __future__ import annotations

import re
import struct
import zlib

import httpx
import pytest
from playwright.sync_api import expect

from tests.utils import REPO
from tests.web.widget_page import WIDGET, Widget

pytestmark = [pytest.mark.browser, pytest.mark.real_model]

SHOTS = REPO / "docs" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "mobile": {"width": 360, "height": 740}}


def mock_screenshot(accent: tuple[int, int, int], width: int = 320, height: int = 180) -> bytes:
    """A PNG that looks like a small app screenshot: a window with a coloured title bar, lines
    of text and a button (drawn here: no imaging library needed)."""
    pixels = [[(241, 243, 247)] * width for _ in range(height)]

    def box(x0: int, y0: int, x1: int, y1: int, colour: tuple[int, int, int]) -> None:
        for y in range(y0, y1):
            pixels[y][x0:x1] = [colour] * (x1 - x0)

    box(16, 14, width - 16, height - 14, (255, 255, 255))
    box(16, 14, width - 16, 40, accent)
    for n, length in enumerate((220, 180, 240, 130)):
        box(32, 56 + n * 18, 32 + length, 64 + n * 18, (203, 208, 217))
    box(width - 112, height - 48, width - 32, height - 26, accent)
    rows = b"".join(
        b"\x00" + bytes(channel for pixel in row for channel in pixel) for row in pixels
    )

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


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

            # Files both ways: the customer's screenshot, the CME's annotated one back.
            page.locator(f"{WIDGET} #sb-file").set_input_files(
                files=[
                    {
                        "name": "reset-error.png",
                        "mimeType": "image/png",
                        "buffer": mock_screenshot((220, 38, 38)),
                    }
                ]
            )
            expect(
                page.locator(f"{WIDGET} .msg[data-role=customer] img.attachment-image")
            ).to_be_visible()
            sent = console.post(
                f"{agent_api}/attachments",
                files={"file": ("where-to-click.png", mock_screenshot((67, 56, 202)), "image/png")},
            )
            assert sent.status_code == 201, sent.text
            expect(
                page.locator(f"{WIDGET} .msg[data-role=agent] img.attachment-image")
            ).to_be_visible()
            shot("attachments")

            console.post(
                f"{agent_api}/messages", json={"text": "Done! The new link is on its way."}
            )
            console.post(f"{agent_api}/resolve")
        expect(page.get_by_role("button", name=re.compile("^5 of 5"))).to_be_visible()
        page.get_by_role("button", name=re.compile("^4 of 5")).hover()
        shot("csat")
    finally:
        context.close()
