"""The widget's files and the demo page: served right, small, and free of inline code."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser

import pytest

from bot.channels.web import STATIC
from bot.channels.web.routes import widget_bundle
from tests.utils import make_client, make_settings

# bytes, raw, as served: the widget, the shared markdown renderer and one language's labels
WIDGET_JS_BUDGET = 56_000  # bytes, as served (markdown renderer included); gzip is what travels
WIDGET_GZIP_BUDGET = 20_000  # bytes, JS and CSS gzipped separately, summed


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from embedding import FakeEmbedder

    tmp = tmp_path_factory.mktemp("assets")
    with make_client(
        make_settings(tmp, f"sqlite:///{tmp / 'db.sqlite'}"), FakeEmbedder()
    ) as client:
        yield client


def test_widget_script_and_styles_are_served_with_their_types(client):
    script = client.get("/widget.js")
    styles = client.get("/widget.css")
    assert script.status_code == styles.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert styles.headers["content-type"].startswith("text/css")
    assert "max-age" in script.headers["cache-control"]


def test_widget_stays_small():
    script = widget_bundle().encode()
    styles = (STATIC / "widget.css").read_bytes()
    assert len(script) < WIDGET_JS_BUDGET
    assert len(gzip.compress(script)) + len(gzip.compress(styles)) < WIDGET_GZIP_BUDGET


@pytest.mark.parametrize(
    "forbidden",
    [
        r"\.innerHTML\b",
        r"\.outerHTML\b",
        r"insertAdjacentHTML",
        r"document\.write",
        r"\beval\(",
        r"new Function\b",
        r"\.style\b",  # no inline styles: everything is a class in widget.css (strict CSP)
        r"setAttribute\(\s*[\"']on",
    ],
)
def test_widget_never_uses_html_strings_eval_or_inline_styles(forbidden):
    assert not re.search(forbidden, widget_bundle())


def test_widget_is_served_with_the_shared_markdown_renderer_in_its_own_scope(client):
    script = client.get("/widget.js").text
    assert script == widget_bundle()
    assert (STATIC / "markdown.js").read_text() in script and script.startswith("{")


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "style":
            self.inline.append("<style>")
        if tag == "script" and "src" not in names:
            self.inline.append("<script> without src")
        self.inline.extend(
            f"{tag} {name}=" for name in names if name == "style" or name.startswith("on")
        )


def test_demo_page_embeds_the_widget_without_inline_code_under_a_strict_csp(client):
    page = client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert '<script src="/widget.js"' in page.text
    finder = _InlineFinder()
    finder.feed(page.text)
    assert finder.inline == []
