"""Articles with block markdown reach a Slack customer in a form Slack can show."""

from __future__ import annotations

from tests.slack.kit import dm, running, slack_settings
from tests.utils import MINI_KB, write_kb

TABLE_ARTICLE = """---
title: Quokka plans
---
Quokka plans compared, per user and month.

| Plan | Monthly billing | Annual billing |
| --- | --- | --- |
| **Starter** | $12 per user | $10 per user/month |
| **Pro** | $24 per user | $20 per user/month |

- Accountants are free
"""


async def test_a_table_article_reaches_a_slack_customer_as_one_line_per_row(
    tmp_path, fake_slack, fake_embedder
):
    kb_dir = write_kb(tmp_path / "kb", {**MINI_KB, "billing/quokka.md": TABLE_ARTICLE})
    settings = slack_settings(
        tmp_path, f"sqlite:///{tmp_path / 'md.db'}", fake_slack, kb_dir=kb_dir, answer_threshold=0.0
    )
    async with running(settings, fake_embedder) as slack:
        await slack.deliver(dm("U_SAM", "quokka plans"))
        await slack.settle()
        [answer] = fake_slack.posts("D_U_SAM")
        text = answer["blocks"][0]["text"]["text"]
        assert (
            "• *Starter* · Monthly billing: $12 per user · Annual billing: $10 per user/month"
            in (text)
        )
        assert (
            "• *Pro* · Monthly billing: $24 per user · Annual billing: $20 per user/month" in text
        )
        assert "• Accountants are free" in text
        assert "|" not in text.split("<")[0]  # no raw pipes before the citation link
        assert "---" not in text and "**" not in text
