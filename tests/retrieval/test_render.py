"""Article pages are rendered to HTML with everything dangerous removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import render_article_html
from retrieval.articles import parse_article
from tests.retrieval.kb import write_article


def _render(tmp_path: Path, body: str) -> str:
    article = parse_article(write_article(tmp_path, "page", body), tmp_path).article
    assert article is not None
    return render_article_html(article)


@pytest.mark.parametrize(
    ("markdown", "forbidden"),
    [
        ("<script>alert(1)</script>", ["<script", "alert(1)"]),
        ('<img src="x.png" onerror="alert(1)">', ["onerror"]),
        ("[click](javascript:alert(1))", ['href="javascript']),
        ('<a href="JaVaScRiPt:alert(1)">click</a>', ["javascript:"]),
        ("<svg onload=alert(1)><circle/></svg>", ["<svg", "onload"]),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', ["data:"]),
        ("![pixel](data:image/svg+xml;base64,PHN2Zz4=)", ['src="data:']),
        ('<img src="data:image/svg+xml;base64,PHN2Zz4=">', ['src="data:']),
        ('<iframe src="https://evil.example"></iframe>', ["<iframe"]),
        (
            '<p style="background:url(javascript:alert(1))" onclick="x()">hi</p>',
            ["style=", "onclick"],
        ),
    ],
)
def test_xss_vectors_are_removed(tmp_path: Path, markdown: str, forbidden: list[str]) -> None:
    html = _render(tmp_path, f"# Page\n\n{markdown}\n").lower()
    for needle in forbidden:
        assert needle.lower() not in html


def test_headings_carry_anchor_ids_and_safe_links_survive(tmp_path: Path) -> None:
    html = _render(
        tmp_path,
        "# Page\n\n## Next steps\n\nSee [refunds](billing/refunds.md#how-to), "
        "[docs](https://example.com/a) or [mail](mailto:help@example.com).\n\n## Next steps\n",
    )
    assert '<h2 id="next-steps">' in html and '<h2 id="next-steps-1">' in html
    assert 'href="billing/refunds#how-to"' in html
    assert 'href="https://example.com/a"' in html and 'href="mailto:help@example.com"' in html
    assert 'rel="noopener noreferrer"' in html
