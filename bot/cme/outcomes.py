"""What CMEs and editors see of learning from outcomes: how many labelled examples per source and
article, the newest ones (with whether each still counts), and undo."""

from __future__ import annotations

from collections import Counter

from bot.cme.schemas import ArticleOutcomes, OutcomeExampleView, OutcomesOut
from bot.conversation.outcomes import kb_key
from bot.runtime import Bot
from bot.storage import OutcomeExample, outcomes
from retrieval import version_key

RECENT = 50


def _in_use(bot: Bot, example: OutcomeExample) -> bool:
    if example.article_id is None:
        return True
    article = bot.kb.article(example.article_id)
    return article is not None and version_key(article) == example.article_version


def outcome_report(bot: Bot) -> OutcomesOut:
    """Counts by source and article, and the newest examples, of the served KB."""
    with bot.db.read() as session:
        rows = outcomes.list_examples(session, kb=kb_key(bot))
        in_use = {row.id: _in_use(bot, row) for row in rows}
        by_article: dict[str | None, Counter[str]] = {}
        for row in rows:
            counts = by_article.setdefault(row.article_id, Counter())
            counts["positive" if row.polarity > 0 else "negative"] += 1
        return OutcomesOut(
            kb=kb_key(bot),
            total=len(rows),
            in_use=sum(in_use.values()),
            by_source=dict(Counter(row.source for row in rows)),
            by_article=[
                ArticleOutcomes(
                    article_id=article_id,
                    positive=counts["positive"],
                    negative=counts["negative"],
                )
                for article_id, counts in sorted(
                    by_article.items(), key=lambda item: -sum(item[1].values())
                )
            ],
            recent=[
                OutcomeExampleView(
                    id=row.id,
                    query=row.query,
                    article_id=row.article_id,
                    source=row.source,
                    polarity=row.polarity,
                    weight=row.weight,
                    in_use=in_use[row.id],
                    conversation_id=row.conversation_id,
                    created_at=row.created_at.isoformat(),
                )
                for row in rows[:RECENT]
            ],
        )


def undo(bot: Bot, example_id: int) -> None:
    """Delete one example; retrieval stops using it after the next reload (seconds)."""
    with bot.db.write() as session:
        outcomes.delete_example(session, kb=kb_key(bot), example_id=example_id)
    bot.outcomes_changed.set()
