"""Attachments in Chromium (issue 19): an image the customer sends from the widget is previewed
in the console, one the CME sends is previewed in the widget, a PDF is a download, and another
visitor's token cannot fetch them."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.bot.test_attachments import PDF, png
from tests.console.conftest import make_cme
from tests.console.test_console_browser import sign_in
from tests.console.test_inbox_browser import WIDGET, Customer, claim

pytestmark = pytest.mark.browser


@pytest.fixture
def customer_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_images_go_both_ways_and_stay_private(live_server, page, customer_page):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    customer = Customer(customer_page, live_server.url)
    customer.ask("The export page shows an error")
    conversation_id = customer.talk_to_a_person()
    sign_in(page, live_server, alice)
    claim(page, conversation_id)

    # The customer's screenshot, previewed in the console.
    customer_page.locator(f"{WIDGET} #sb-file").set_input_files(
        {"name": "screenshot.png", "mimeType": "image/png", "buffer": png(8, 8)}
    )
    sent = customer_page.locator(f"{WIDGET} .msg[data-role=customer] .attachment-image")
    expect(sent).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    in_console = page.locator("#transcript .role-customer .attachments img.attachment-image")
    expect(in_console).to_be_visible()
    expect(page.locator("#transcript .role-customer .attachments figcaption")).to_contain_text(
        "screenshot.png"
    )
    page.wait_for_function(
        "() => { const i = document.querySelector('#transcript .attachments img');"
        " return i && i.complete && i.naturalWidth === 8; }"
    )

    # The CME's image, previewed in the widget; a PDF is a download button.
    page.locator("#attach-file").set_input_files(
        {"name": "where-to-click.png", "mimeType": "image/png", "buffer": png(12, 6)}
    )
    from_cme = customer_page.locator(f"{WIDGET} .msg[data-role=agent] img.attachment-image")
    expect(from_cme).to_be_visible()
    customer_page.wait_for_function(
        "() => { const root = document.querySelector('#supportbot-widget').shadowRoot;"
        " const i = root.querySelector('.msg[data-role=agent] img.attachment-image');"
        " return i && i.src.startsWith('data:image/png;base64,') && i.naturalWidth === 12; }"
    )
    page.locator("#attach-file").set_input_files(
        {"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    download = customer_page.locator(f"{WIDGET} .msg[data-role=agent] button.attachment.file")
    expect(download).to_contain_text("invoice.pdf")
    with customer_page.expect_download() as saved:
        download.click()
    assert saved.value.suggested_filename == "invoice.pdf"

    # A hostile file is refused with the server's reason, shown in the widget.
    customer_page.locator(f"{WIDGET} #sb-file").set_input_files(
        {"name": "cat.png", "mimeType": "image/png", "buffer": b"<html><script>x</script>"}
    )
    expect(customer_page.locator(f"{WIDGET} .notice")).to_contain_text("text/html")

    # Another visitor's token cannot fetch the customer's file.
    packet = httpx.get(
        f"{live_server.url}/api/cme/conversations/{conversation_id}", headers=alice.bearer
    ).json()
    [url] = [
        a["url"].replace("/api/cme/", "/api/")
        for m in packet["transcript"]
        for a in m["attachments"]
        if m["role"] == "customer"
    ]
    other = httpx.post(f"{live_server.url}/api/conversations", json={}).json()
    response = httpx.get(
        live_server.url + url, headers={"Authorization": f"Bearer {other['token']}"}
    )
    assert response.status_code == 403


def test_an_image_that_loads_late_keeps_the_widget_scrolled_to_the_bottom(browser, live_server):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    context = browser.new_context(viewport={"width": 360, "height": 640})
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        customer = Customer(page, live_server.url)
        customer.ask("The export page shows an error")
        conversation_id = customer.talk_to_a_person()
        api = f"/api/cme/conversations/{conversation_id}"
        with httpx.Client(base_url=live_server.url, headers=alice.bearer, timeout=30) as cme:
            assert cme.post(f"{api}/claim").is_success
            for n in range(4):  # enough to scroll the log
                cme.post(f"{api}/messages", json={"text": f"Checking step {n} for you."})
            tall = png(20, 60)  # shown at the bubble's width: taller than the visible log
            sent = cme.post(f"{api}/attachments", files={"file": ("tall.png", tall, "image/png")})
            assert sent.status_code == 201, sent.text
        image = page.locator(f"{WIDGET} .msg[data-role=agent] img.attachment-image")
        expect(image).to_be_visible()
        page.wait_for_function(
            "() => { const root = document.querySelector('#supportbot-widget').shadowRoot;"
            " const i = root.querySelector('.msg[data-role=agent] img.attachment-image');"
            " return i && i.complete && i.naturalWidth === 20; }"
        )
        page.wait_for_timeout(200)
        gap = page.evaluate(
            "() => { const log = document.querySelector('#supportbot-widget').shadowRoot"
            ".querySelector('.log'); return log.scrollHeight - log.scrollTop - log.clientHeight; }"
        )
        assert gap < 5, f"the log is {gap}px above its bottom after the image loaded"
    finally:
        context.close()
