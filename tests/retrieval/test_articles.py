"""Front matter parsing, title fallback, drafts, and every kind of broken article."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import KBProblem, lint_kb
from retrieval.articles import load_articles, parse_article
from tests.retrieval.kb import write_article


def test_front_matter_fields_are_parsed(tmp_path: Path) -> None:
    path = write_article(
        tmp_path,
        "billing/refunds",
        "---\ntitle: Refunds\ntags: [billing, money]\nquestions:\n  - Can I get my money back?\n"
        "escalate: true\n---\n\nBody text.\n",
    )
    article = parse_article(path, tmp_path).article
    assert article is not None
    assert article.id == "billing/refunds"
    assert article.title == "Refunds"
    assert article.tags == ("billing", "money")
    assert article.questions == ("Can I get my money back?",)
    assert article.escalate is True and article.draft is False
    assert article.body == "Body text."
    assert article.path == path


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("---\ntitle: From front matter\n---\n# From heading\n", "From front matter"),
        ("Intro line.\n\n# From heading\n\nMore.\n", "From heading"),
        ("```\n# not a heading\n```\nNo heading here.\n", "Reset password"),
    ],
)
def test_title_falls_back_to_first_heading_then_file_name(
    tmp_path: Path, text: str, title: str
) -> None:
    path = write_article(tmp_path, "reset-password", text)
    article = parse_article(path, tmp_path).article
    assert article is not None and article.title == title


def test_drafts_are_not_served(tmp_path: Path) -> None:
    write_article(tmp_path, "live", "# Live\n")
    write_article(tmp_path, "wip", "---\ndraft: true\n---\n# Work in progress\n")
    articles, problems = load_articles(tmp_path)
    assert sorted(articles) == ["live"] and problems == []


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (b"---\ntitle: ok\ntags: [a, b\n---\nbody\n", 4, "invalid YAML front matter"),
        (b"---\n- just\n- a list\n---\nbody\n", 2, "front matter must be a mapping"),
        (b"---\ntitle: ok\ntags: billing\n---\nbody\n", 3, "`tags` must be a list of strings"),
        (b"---\nquestions: {a: 1}\n---\nbody\n", 2, "`questions` must be a list of strings"),
        (b"---\ntitle: [not, text]\n---\n", 2, "`title` must be a string"),
        (b"---\ntitle: x\nescalate: sometimes\n---\n", 3, "`escalate` must be true or false"),
        (b"---\ntitle: never closed\n", 1, "never closed"),
        (b"# Title\n\nline two\ncaf\xe9 in latin-1\n", 4, "not valid UTF-8"),
    ],
)
def test_broken_article_is_reported_with_file_and_line(
    tmp_path: Path, content: bytes, line: int, message: str
) -> None:
    (tmp_path / "broken.md").write_bytes(content)
    write_article(tmp_path, "fine", "# Fine\n")
    articles, problems = load_articles(tmp_path)
    assert list(articles) == ["fine"]
    assert len(problems) == 1
    assert (problems[0].path, problems[0].line) == ("broken.md", line)
    assert message in problems[0].message


def test_unreadable_file_is_reported_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "folder.md").mkdir()  # a directory named like an article is skipped silently
    write_article(tmp_path, "fine", "# Fine\n")
    missing = tmp_path / "gone.md"
    result = parse_article(missing, tmp_path)
    assert result.article is None
    assert result.problems[0].path == "gone.md" and "cannot read" in result.problems[0].message
    assert sorted(load_articles(tmp_path)[0]) == ["fine"]


def test_lint_reports_every_problem_formatted_as_path_line_message(tmp_path: Path) -> None:
    write_article(tmp_path, "a", "---\ntags: nope\n---\n")
    write_article(tmp_path, "sub/b", "---\n: [\n---\n")
    problems = lint_kb(tmp_path)
    assert [problem.path for problem in problems] == ["a.md", "sub/b.md"]
    assert str(problems[0]) == "a.md:2: `tags` must be a list of strings"
    assert str(KBProblem("x.md", 7, "boom")) == "x.md:7: boom"
