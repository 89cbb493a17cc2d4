"""What each channel can show of an article: warnings for markdown the widget or Slack cannot.

Articles render in full on their page (`render.py`). The widget and Slack show an answer's
passage with a smaller renderer each (bot/static/markdown.js, the Slack mrkdwn conversion), so
some constructs lose their meaning there. `supportbot kb lint` reports them as warnings; they do
not make the lint fail.
"""

from __future__ import annotations

from pathlib import Path

from retrieval.articles import Article, KBProblem, load_articles
from retrieval.chunking import markdown_parser

MAX_LIST_DEPTH = 4  # bot/static/markdown.js nests lists up to this depth
MAX_READABLE_COLUMNS = 5  # Slack shows a table row as one line: "name · column: value · ..."

_INLINE = {
    "image": "an image shows as a link in the widget and as its address in Slack",
    "html_inline": "inline HTML shows as literal text in the widget and Slack",
    "s_open": "~~strikethrough~~ shows as plain tildes in the widget",
}


def channel_warnings(article: Article) -> list[KBProblem]:
    """Constructs in `article` that the widget or Slack cannot show, with their lines."""
    path = article.path.as_posix()
    warnings: list[KBProblem] = []
    list_depth = 0
    columns = 0

    def warn(token_map: list[int] | None, message: str) -> None:
        line = article.body_line + (token_map[0] if token_map else 0)
        warnings.append(KBProblem(path, line, message))

    block_map: list[int] | None = None
    table_map: list[int] | None = None
    for token in markdown_parser().parse(article.body):
        if token.map:
            block_map = token.map
        if token.type in ("bullet_list_open", "ordered_list_open"):
            if list_depth == MAX_LIST_DEPTH:
                warn(token.map, f"lists nested over {MAX_LIST_DEPTH} deep show flat in the widget")
            list_depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif token.type == "html_block":
            warn(token.map, "an HTML block shows as literal text in the widget and Slack")
        elif token.type == "table_open":
            columns = 0
            table_map = token.map
        elif token.type == "th_open":
            columns += 1
        elif token.type == "thead_close" and columns > MAX_READABLE_COLUMNS:
            warn(
                table_map,
                f"a table of {columns} columns is hard to read in Slack (one line per row); "
                f"keep it to {MAX_READABLE_COLUMNS}",
            )
        elif token.type == "inline":
            seen: set[str] = set()
            for child in token.children or []:
                if child.type in _INLINE and child.type not in seen:
                    seen.add(child.type)
                    warn(block_map, _INLINE[child.type])
    return warnings


def lint_channels(kb_dir: Path) -> list[KBProblem]:
    """Channel warnings for every article under `kb_dir` (drafts included: they will ship)."""
    articles, _ = load_articles(Path(kb_dir))
    return [warning for article in articles.values() for warning in channel_warnings(article)]
