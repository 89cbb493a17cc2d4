"""The help centre: articles by tag, search through the bot's retrieval, article pages with their
title, navigation and the chat widget; and the demo page's plans as the KB prices them."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.utils import MINI_KB, make_client, make_settings, write_kb

REPO = Path(__file__).resolve().parents[2]
HOSTILE = {
    "billing/hostile.md": """---
title: <script>alert("title")</script> Card hostile
tags: [billing]
---
Hostile card words <img src=x onerror=alert(1)>.
""",
}


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "a":
            self.links.append(values.get("href") or "")
        if tag == "script":
            self.scripts.append(values.get("src") or "INLINE")


def parse(text: str) -> Links:
    parser = Links()
    parser.feed(text)
    return parser


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    kb_dir = write_kb(tmp_path / "kb", {**MINI_KB, **HOSTILE})
    settings = make_settings(tmp_path, database_url, kb_dir=kb_dir)
    with make_client(settings, fake_embedder) as client:
        yield client


def test_the_index_lists_every_article_under_its_tag(client):
    page = client.get("/kb/")
    assert page.status_code == 200
    for tag in ("Account", "Billing", "Data"):
        assert f"<h2>{tag}</h2>" in page.text
    links = parse(page.text).links
    for article in ("account/reset-password", "billing/refunds", "billing/invoices", "data/export"):
        assert f"/kb/{article}" in links
    assert parse(page.text).scripts == ["/widget.js"]
    assert 'name="q"' in page.text
    assert client.get("/kb").status_code == 200


def test_search_uses_the_bots_retrieval(client):
    page = client.get("/kb/", params={"q": "export my data"})
    assert page.status_code == 200
    results = [link for link in parse(page.text).links if link.startswith("http")]  # the hits
    assert results and "/kb/data/export" in results[0]
    assert 'value="export my data"' in page.text
    assert client.get("/kb/", params={"q": "x" * 301}).status_code == 422


def test_an_article_page_has_its_title_navigation_and_the_widget(client):
    page = client.get("/kb/billing/invoices")
    assert page.status_code == 200
    assert "<h1>Where can I download my invoices?</h1>" in page.text
    parsed = parse(page.text)
    assert "/kb/" in parsed.links and "/kb/#tag-billing" in parsed.links
    assert "/kb/billing/refunds" in parsed.links  # a related article under the same tag
    assert parsed.scripts == ["/widget.js"]
    assert client.get("/kb/billing/nothing-here").status_code == 404


def test_kb_text_is_escaped_everywhere(client):
    for path in ("/kb/", "/kb/billing/hostile", "/kb/billing/refunds"):
        text = client.get(path).text
        assert "<script>alert" not in text and "onerror=" not in text
        assert "INLINE" not in parse(text).scripts
    page = client.get("/kb/", params={"q": "<script>alert(1)</script> hostile card"})
    assert "<script>alert(1)" not in page.text


def test_the_demo_pages_plans_are_the_kbs_prices():
    pricing = (REPO / "kb_docs/billing/plans-and-pricing.md").read_text()
    kb_plans = dict(re.findall(r"^\| \*\*(\w+)\*\* \| \$(\d+)", pricing, re.MULTILINE))
    demo = (REPO / "bot/static/demo.html").read_text()
    demo_plans = dict(re.findall(r"<h2>(\w+)</h2><p class=\"price\">\$(\d+)", demo))
    assert kb_plans == {"Free": "0", "Starter": "12", "Pro": "24", "Business": "39"}
    assert demo_plans == kb_plans
