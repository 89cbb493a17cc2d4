"""Split articles into passages that fit the model's input, one or more per heading.

Besides the section passages each article gets a `title` passage and one `question` passage per
front-matter question: short texts that match short customer questions well.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

from retrieval.articles import Article

PassageKind = Literal["section", "title", "question"]

# [CLS] and [SEP] count against the model's limit but not against count_tokens().
SPECIAL_TOKENS = 2


@dataclass(frozen=True)
class Passage:
    """A piece of an article that gets its own vector."""

    article_id: str
    kind: PassageKind
    section: str  # heading path joined " > ", "" for the intro
    anchor: str  # slug of the innermost heading, "" for the intro
    text: str  # markdown shown to the customer
    embed_text: str  # what the model sees: title and heading path give the text its context
    hash: str  # of embed_text: vectors are cached by it


def markdown_parser() -> MarkdownIt:
    """The one markdown dialect used to chunk and to render articles."""
    return MarkdownIt("commonmark", {"html": True, "linkify": False}).enable(
        ["table", "strikethrough"]
    )


def slugify(text: str) -> str:
    """GitHub-style heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    slug = re.sub(r"[^\w\- ]", "", text.strip().lower(), flags=re.UNICODE)
    return slug.replace(" ", "-")


class AnchorAllocator:
    """Makes repeated headings unique the way GitHub does: `faq`, `faq-1`, `faq-2`."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __call__(self, text: str) -> str:
        base = slugify(text)
        count = self._seen.get(base, 0)
        self._seen[base] = count + 1
        return base if count == 0 else f"{base}-{count}"


def heading_text(inline: Token) -> str:
    """Plain text of a heading's inline token (emphasis, code and links reduced to their text)."""
    children = inline.children or []
    return "".join(
        child.content for child in children if child.type in ("text", "code_inline")
    ).strip()


@dataclass(frozen=True)
class _Section:
    path: tuple[str, ...]
    anchor: str
    text: str


def _sections(article: Article) -> list[_Section]:
    lines = article.body.split("\n")
    tokens = markdown_parser().parse(article.body)
    anchors = AnchorAllocator()
    headings: list[tuple[int, int, int, str, str]] = []  # start, end, level, text, anchor
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map and token.level == 0:
            text = heading_text(tokens[index + 1])
            headings.append((token.map[0], token.map[1], int(token.tag[1]), text, anchors(text)))

    sections: list[_Section] = []
    stack: list[tuple[int, str]] = []
    intro_end = headings[0][0] if headings else len(lines)
    sections.append(_Section((), "", "\n".join(lines[:intro_end]).strip()))
    for position, (_, end, level, text, anchor) in enumerate(headings):
        next_start = headings[position + 1][0] if position + 1 < len(headings) else len(lines)
        content = "\n".join(lines[end:next_start]).strip()
        if level == 1 and text == article.title and not stack:
            # The article's own title heading: what follows it is the intro.
            sections.append(_Section((), "", content))
            continue
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, text))
        sections.append(_Section(tuple(name for _, name in stack), anchor, content))
    return [section for section in sections if section.text]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Coarsest first: blocks, lines (list items), sentences, words.
_SPLITTERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\n\s*\n"), "\n\n"),
    (re.compile(r"\n"), "\n"),
    (_SENTENCE_END, " "),
    (re.compile(r"\s+"), " "),
)


def split_to_fit(text: str, budget: int, count: Callable[[str], int], level: int = 0) -> list[str]:
    """Pack blocks (then lines, sentences, words) greedily into pieces of <= `budget` tokens."""
    text = text.strip()
    if not text:
        return []
    if level >= len(_SPLITTERS) or count(text) <= budget:
        return [text]
    pattern, joiner = _SPLITTERS[level]
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for unit in (part.strip() for part in pattern.split(text)):
        if not unit:
            continue
        size = count(unit) + 1
        if size > budget:
            if current:
                pieces.append(joiner.join(current))
                current, used = [], 0
            pieces.extend(split_to_fit(unit, budget, count, level + 1))
            continue
        if used + size > budget and current:
            pieces.append(joiner.join(current))
            current, used = [], 0
        current.append(unit)
        used += size
    if current:
        pieces.append(joiner.join(current))
    return pieces


def _passage(
    article: Article, kind: PassageKind, section: str, anchor: str, text: str, embed: str
) -> Passage:
    digest = hashlib.sha256(embed.encode()).hexdigest()
    return Passage(article.id, kind, section, anchor, text, embed, digest)


def chunk_article(
    article: Article, count_tokens: Callable[[str], int], max_tokens: int
) -> list[Passage]:
    """Passages for one article, each within `max_tokens` model tokens."""
    passages = [_passage(article, "title", "", "", article.title, article.title)]
    passages.extend(
        _passage(article, "question", "", "", question, question) for question in article.questions
    )
    for section in _sections(article):
        label = " > ".join(section.path)
        prefix = f"{article.title} > {label}" if label else article.title
        budget = max(max_tokens - SPECIAL_TOKENS - count_tokens(prefix) - 1, 16)
        for piece in split_to_fit(section.text, budget, count_tokens):
            passages.append(
                _passage(article, "section", label, section.anchor, piece, f"{prefix}\n{piece}")
            )
    return passages
