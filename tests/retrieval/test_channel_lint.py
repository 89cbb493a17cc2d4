"""`kb lint` warns about markdown the widget or Slack cannot show, and only about that."""

from __future__ import annotations

import subprocess
import sys

import pytest

from retrieval import lint_channels
from tests.utils import write_kb

FINE = """---
title: Fine
---
Intro with **bold**, `code` and a [link](https://x.test).

| Plan | Price |
| --- | --- |
| Pro | $24 |

1. Step
   - detail
"""


@pytest.mark.parametrize(
    ("body", "warning", "line"),
    [
        ("![screenshot](shot.png)", "image shows as a link", 4),
        ("Press <kbd>Ctrl</kbd> now", "inline HTML", 4),
        ("<div>\nblock\n</div>", "HTML block", 4),
        ("~~old price~~ new price", "strikethrough", 4),
        ("| a | b | c | d | e | f |\n|-|-|-|-|-|-|\n| 1 | 2 | 3 | 4 | 5 | 6 |", "6 columns", 4),
        ("- a\n  - b\n    - c\n      - d\n        - e", "nested over 4 deep", 8),
    ],
)
def test_constructs_a_channel_cannot_show_are_warned_with_their_line(tmp_path, body, warning, line):
    kb = write_kb(
        tmp_path / "kb", {"a/fine.md": FINE, "a/odd.md": f"---\ntitle: Odd\n---\n{body}\n"}
    )
    [found] = lint_channels(kb)
    assert warning in found.message
    assert found.path.endswith("a/odd.md") and found.line == line


def test_kb_lint_prints_warnings_but_does_not_fail(tmp_path):
    kb = write_kb(tmp_path / "kb", {"a/odd.md": "---\ntitle: Odd\n---\n![x](y.png)\n"})
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "kb", "lint", str(kb)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "warning: " in done.stdout and "odd.md:4: an image" in done.stdout


def test_a_bad_team_name_is_a_problem_and_a_good_one_is_kept(tmp_path):
    from retrieval.articles import load_articles

    kb = write_kb(
        tmp_path / "kb",
        {
            "a/good.md": "---\ntitle: Good\nteam: billing\n---\nBody.\n",
            "a/bad.md": "---\ntitle: Bad\nteam: Billing Team!\n---\nBody.\n",
        },
    )
    articles, problems = load_articles(kb)
    assert articles["a/good"].team == "billing"
    assert [p.message for p in problems] == [
        "`team` must be a short lower-case name (letters, digits, - and _)"
    ]
