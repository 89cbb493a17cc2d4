"""`supportbot demo seed`: traffic through the real pipeline with the real model, spread over the
past days, that the insight dashboard then counts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.cme import demo
from bot.cme.insights import DASHBOARD, Window
from bot.cme.insights.service import refresh_insights
from bot.runtime import Bot
from bot.storage import Conversation, Message, Role, utcnow
from tests.utils import make_settings


def test_demo_seed_runs_the_pipeline_over_past_days(tmp_path, real_embedder):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'demo.db'}")  # the small KB
    bot = Bot.build(settings, embedder=real_embedder)
    before = utcnow()
    report = demo.run_seed(bot, days=3, per_day=5)
    assert report.conversations == 15 and report.turns >= 15
    assert bot.clock is not None and abs((bot.clock() - utcnow()).total_seconds()) < 5

    bot = Bot.build(settings, embedder=real_embedder)  # run_seed stopped the first
    bot.db.migrate()
    assert demo.has_traffic(bot.db)
    with bot.db.read() as session:
        starts = session.scalars(select(Conversation.created_at)).all()
        customer_turns = session.scalars(select(Message).where(Message.role == Role.CUSTOMER)).all()
        answers = session.scalars(select(Message).where(Message.role == Role.BOT)).all()
    assert min(starts) < before - timedelta(days=1)  # simulated time: spread over the past days
    with bot.db.read() as session:
        latest = max(session.scalars(select(Message.created_at)).all())
    assert latest <= utcnow()  # nothing in the future
    # Real scores and real answers, from the bundled model.
    assert all(m.scores and m.embedding for m in customer_turns)
    assert any((m.decision or {}).get("action") == "answer" and m.citations for m in answers)

    assert refresh_insights(bot) == 15
    window = Window(before - timedelta(days=4), before + timedelta(days=1))
    with bot.db.read() as session:
        resolution = DASHBOARD["resolution"](session, window)
        volume = DASHBOARD["volume"](session, window)
    assert resolution["denominator"] == volume["denominator"] > 0
    bot.db.dispose()
