"""Stored health (bot.cme.recompute): conversations flow through the real API, health is
recomputed incrementally for the customers they touched, and nightly for everyone."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.cme.recompute import recompute, recompute_stale
from bot.http.identity import sign_v2
from bot.storage import AccountHealth, Conversation, Customer, HealthPoint
from tests.utils import make_client, make_settings, say

SECRET = "identity-secret-of-at-least-32-characters!"


def pytest_approx(value: float):
    return pytest.approx(value, abs=0.05)


def health_settings(tmp_path, database_url):
    """The background health work off: the test recomputes when it wants to."""
    return make_settings(tmp_path, database_url, identity_secret=SECRET, health_poll_s=0)


def start_signed(client, customer_id: str, company: str | None = None) -> tuple[str, dict]:
    expires = int(time.time()) + 3600
    signature = sign_v2(SECRET, customer_id=customer_id, expires=expires, company=company)
    customer = {"id": customer_id, "expires": expires, "signature": signature}
    if company:
        customer["company"] = company
    created = client.post("/api/conversations", json={"customer": customer}).json()
    return created["id"], {"Authorization": f"Bearer {created['token']}"}


def customer_ref(bot, conversation_id: str) -> int:
    with bot.db.read() as session:
        return session.get(Conversation, conversation_id).customer_ref


def test_health_follows_conversations_incrementally(tmp_path, database_url, fake_embedder):
    settings = health_settings(tmp_path, database_url)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        happy_id, happy = start_signed(client, "happy", company="Acme")
        say(client, happy_id, happy, "How do I export my data?")
        say(client, happy_id, happy, "thanks, bye")
        unhappy_id, unhappy = start_signed(client, "unhappy", company="Acme")
        say(client, unhappy_id, unhappy, "How do I export my data?")
        client.post(f"/api/conversations/{unhappy_id}/handoff", headers=unhappy)
        client.post(
            f"/api/conversations/{unhappy_id}/csat",
            json={"rating": 1, "reason": "too_slow"},
            headers=unhappy,
        )
        assert recompute_stale(bot) == 2
        assert recompute_stale(bot) == 0  # nothing changed since
        with bot.db.read() as session:
            happy_row = session.get(Customer, customer_ref(bot, happy_id))
            unhappy_row = session.get(Customer, customer_ref(bot, unhappy_id))
            assert happy_row.health_score > unhappy_row.health_score
            names = {c["name"]: c for c in unhappy_row.health_components}
            assert names["escalations"]["contribution"] < 0 and names["csat"]["contribution"] < 0
            assert sum(c["contribution"] for c in names.values()) == pytest_approx(
                unhappy_row.health_score - 75.0
            )
            account = session.get(AccountHealth, "Acme")
            assert account.customers == 2
            assert account.score == pytest_approx(
                (happy_row.health_score + unhappy_row.health_score) / 2
            )

        # Another conversation of the unhappy customer marks them (only them) stale.
        again_id, again = start_signed(client, "unhappy", company="Acme")
        say(client, again_id, again, "this is useless, I want a refund now!!")
        with bot.db.read() as session:
            stale = set(session.scalars(select(Customer.id).where(Customer.health_stale)))
        assert stale == {customer_ref(bot, unhappy_id)}


def test_full_recompute_keeps_a_trend_and_the_drop(tmp_path, database_url, fake_embedder):
    settings = health_settings(tmp_path, database_url)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        conversation_id, headers = start_signed(client, "drifting")
        say(client, conversation_id, headers, "How do I export my data?")
        say(client, conversation_id, headers, "thanks, bye")
        start = bot.clock()
        recompute(bot.db, bot.settings, now=start - timedelta(days=8))
        client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
        report = recompute(bot.db, bot.settings, now=start)
        assert report.customers == 1
        ref = customer_ref(bot, conversation_id)
        with bot.db.read() as session:
            points = session.scalars(
                select(HealthPoint).where(HealthPoint.customer_id == ref).order_by(HealthPoint.at)
            ).all()
            assert len(points) == 2
            customer = session.get(Customer, ref)
            assert customer.health_drop == pytest_approx(points[0].score - points[1].score)
            assert customer.health_drop > 0


def test_background_recomputes_customers_whose_conversations_changed(
    tmp_path, database_url, fake_embedder
):
    settings = make_settings(tmp_path, database_url, identity_secret=SECRET, health_poll_s=0.05)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        conversation_id, headers = start_signed(client, "watched")
        say(client, conversation_id, headers, "How do I export my data?")
        client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
        ref = customer_ref(bot, conversation_id)

        def escalation_counted() -> bool:
            with bot.db.read() as session:
                customer = session.get(Customer, ref)
                names = {c["name"]: c for c in customer.health_components or []}
                return not customer.health_stale and names.get("escalations", {}).get("value") == 1

        deadline = time.monotonic() + 20
        while not escalation_counted():
            assert time.monotonic() < deadline, "the background task never recomputed the health"
            time.sleep(0.05)


@pytest.mark.real_model
def test_a_frustrated_customer_with_the_real_model_loses_health(
    tmp_path, database_url, real_embedder
):
    settings = health_settings(tmp_path, database_url)
    with make_client(settings, real_embedder) as client:
        bot = client.app.state.bot
        calm_id, calm = start_signed(client, "calm")
        say(client, calm_id, calm, "How do I export my data?")
        say(client, calm_id, calm, "thanks, bye")
        angry_id, angry = start_signed(client, "angry")
        say(client, angry_id, angry, "How do I export my data?")
        say(client, angry_id, angry, "This is useless!!! Nothing works and I've asked three times")
        say(client, angry_id, angry, "I am so fed up with this, just give me a human NOW")
        recompute(bot.db, bot.settings, now=bot.clock())
        with bot.db.read() as session:
            calm_row = session.get(Customer, customer_ref(bot, calm_id))
            angry_row = session.get(Customer, customer_ref(bot, angry_id))
        why = {c["name"]: c for c in angry_row.health_components}
        assert why["frustration"]["contribution"] < 0 and why["frustration"]["value"] > 0.4
        assert calm_row.health_score > angry_row.health_score
        assert calm_row.health_tier == "healthy"


def test_full_recompute_drops_trend_points_older_than_twice_the_window(
    tmp_path, database_url, fake_embedder
):
    settings = health_settings(tmp_path, database_url)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        conversation_id, _ = start_signed(client, "long-time")
        now = bot.clock()
        recompute(bot.db, bot.settings, now=now - timedelta(days=2 * 180 + 1))
        recompute(bot.db, bot.settings, now=now - timedelta(days=10))
        recompute(bot.db, bot.settings, now=now)
        with bot.db.read() as session:
            points = session.scalars(
                select(HealthPoint.at).where(
                    HealthPoint.customer_id == customer_ref(bot, conversation_id)
                )
            ).all()
        assert len(points) == 2 and min(points) > now - timedelta(days=360)
