"""Article pages as safe HTML: markdown-it renders, nh3 keeps only an allow-list.

KB files are written by people, possibly pasted from elsewhere, so the rendered HTML is treated
as untrusted: no scripts, no event handlers, links only to http(s), mailto or relative URLs.
"""

from __future__ import annotations

import re

import nh3

from retrieval.articles import Article
from retrieval.chunking import AnchorAllocator, heading_text, markdown_parser

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s",
    "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
    **{f"h{level}": {"id"} for level in range(1, 7)},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _article_link(href: str) -> str:
    """`other.md#part` (a link between KB files) becomes `other#part` (the served page)."""
    if _SCHEME.match(href) or href.startswith(("/", "#")):
        return href
    path, hash_mark, fragment = href.partition("#")
    if path.endswith(".md"):
        path = path[: -len(".md")]
    return f"{path}{hash_mark}{fragment}"


def render_article_html(article: Article) -> str:
    """The article body as sanitised HTML, each heading carrying its citation anchor as `id`."""
    md = markdown_parser()
    tokens = md.parse(article.body)
    anchors = AnchorAllocator()
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.level == 0:
            token.attrSet("id", anchors(heading_text(tokens[index + 1])))
        if token.type == "inline":
            for child in token.children or []:
                if child.type == "link_open" and isinstance(child.attrGet("href"), str):
                    child.attrSet("href", _article_link(str(child.attrGet("href"))))
    html = md.renderer.render(tokens, md.options, {})
    return sanitise_html(html)


def sanitise_html(html: str) -> str:
    """Keep only allow-listed tags, attributes and URL schemes."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
