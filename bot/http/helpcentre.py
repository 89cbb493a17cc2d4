"""The help centre: `/kb/` lists the articles by tag with a search box (the bot's own retrieval),
and each article page has its title, navigation, related articles and the chat widget.

Every value from the KB goes through `html.escape`; article bodies are rendered by
`retrieval.render_article_html`, which keeps only an allow-list of tags.
"""

from __future__ import annotations

import html
from collections import defaultdict
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from bot.http.deps import BotDep
from bot.http.errors import documented_errors
from retrieval import Article, render_article_html

router = APIRouter(tags=["kb"])

UNTAGGED = "general"
SEARCH_RESULTS = 8

LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Help centre</title><link rel="stylesheet" href="/static/page.css">
<link rel="stylesheet" href="/static/helpcentre.css"></head>
<body><header class="hc-top"><a class="hc-home" href="/kb/">Help centre</a>
<form class="hc-search" action="/kb/" method="get" role="search">
<label for="hc-q" class="hc-sr">Search the help centre</label>
<input id="hc-q" type="search" name="q" value="{query}" maxlength="300"
 placeholder="Search the help centre"><button type="submit">Search</button></form></header>
<main class="page">{body}</main>
<script src="/widget.js" defer data-title="Support"></script></body></html>"""


def layout(title: str, body: str, query: str = "") -> HTMLResponse:
    """A help-centre page; `title` and `query` are escaped here, `body` must already be safe."""
    return HTMLResponse(
        LAYOUT.format(title=html.escape(title), query=html.escape(query), body=body)
    )


def _link(article: Article) -> str:
    return f'<a href="/kb/{quote(article.id)}">{html.escape(article.title)}</a>'


def _by_tag(articles: list[Article]) -> dict[str, list[Article]]:
    groups: dict[str, list[Article]] = defaultdict(list)
    for article in articles:
        groups[article.tags[0] if article.tags else UNTAGGED].append(article)
    return {
        tag: sorted(group, key=lambda a: a.title.lower()) for tag, group in sorted(groups.items())
    }


@router.get("/kb", response_class=HTMLResponse, include_in_schema=False)
@router.get("/kb/", response_class=HTMLResponse, responses=documented_errors(422, 500, page=True))
async def help_centre(
    bot: BotDep,
    q: Annotated[str, Query(max_length=300, description="Search words")] = "",
) -> HTMLResponse:
    """Every article by tag, or, with `q`, the passages the bot's retrieval finds for it."""
    articles = [article for article in bot.kb.articles() if not article.draft]
    query = q.strip()
    if query:
        vector = await bot.kb.embed_query(query)
        result = await run_in_threadpool(bot.kb.search, vector, k=SEARCH_RESULTS)
        items = "".join(
            f'<li><a href="{html.escape(hit.url)}">{html.escape(hit.title)}'
            f"{' › ' + html.escape(hit.section) if hit.section else ''}</a>"
            f'<p class="hc-passage">{html.escape(hit.passage[:240])}</p></li>'
            for hit in result.hits
        )
        body = (
            f"<h1>Results for “{html.escape(query)}”</h1>"
            + (f'<ol class="hc-results">{items}</ol>' if items else "<p>No article matches.</p>")
            + '<p><a href="/kb/">All articles</a></p>'
        )
        return layout(f"Search: {query}", body, query)
    sections = "".join(
        f'<section class="hc-tag" id="tag-{html.escape(tag)}"><h2>{html.escape(tag.title())}</h2>'
        f"<ul>{''.join(f'<li>{_link(a)}</li>' for a in group)}</ul></section>"
        for tag, group in _by_tag(articles).items()
    )
    return layout("Help centre", f"<h1>Help centre</h1>{sections}")


@router.get(
    "/kb/{article_id:path}",
    response_class=HTMLResponse,
    responses=documented_errors(404, 500, page=True),
)
async def article_page(article_id: str, bot: BotDep) -> HTMLResponse:
    """A knowledge-base article with its title, navigation, related articles and the chat
    widget, rendered with untrusted markup removed."""
    article = bot.kb.article(article_id)
    if article is None or article.draft:
        raise HTTPException(404, f"article {article_id!r} does not exist")
    tag = article.tags[0] if article.tags else UNTAGGED
    related = [
        other
        for other in _by_tag([a for a in bot.kb.articles() if not a.draft]).get(tag, [])
        if other.id != article.id
    ][:6]
    crumbs = (
        f'<nav class="hc-crumbs" aria-label="Breadcrumb"><a href="/kb/">Help centre</a> › '
        f'<a href="/kb/#tag-{html.escape(tag)}">{html.escape(tag.title())}</a></nav>'
    )
    aside = (
        f'<aside class="hc-related"><h2>Related articles</h2><ul>'
        f"{''.join(f'<li>{_link(a)}</li>' for a in related)}</ul></aside>"
        if related
        else ""
    )
    body = (
        f"{crumbs}<article><h1>{html.escape(article.title)}</h1>"
        f"{render_article_html(article)}</article>{aside}"
    )
    return layout(article.title, body)
