"""Conversation lifecycle through the API: away notice, resolve, reopen, withdraw, hand back."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from bot.conversation.lifecycle import resolve_idle
from bot.storage import Role, store, utcnow
from embedding import FakeEmbedder
from tests.utils import make_client, make_cmes, make_settings, say, start_conversation


@pytest.fixture
def client(tmp_path, database_url):
    with make_client(make_settings(tmp_path, database_url), FakeEmbedder()) as client:
        yield client


def cme_headers(client, count=1):
    bot = client.app.state.bot
    with bot.db.write() as session:
        return [{"Authorization": f"Bearer {token}"} for _, token in make_cmes(session, count)]


def messages(client, conversation_id, headers):
    url = f"/api/conversations/{conversation_id}/messages"
    return client.get(url, headers=headers).json()


def test_outside_office_hours_the_notice_says_when_a_person_will_reply(tmp_path, database_url):
    # Always closed: a one-minute window at 03:00 on Sundays, in a far-away zone.
    settings = make_settings(
        tmp_path, database_url, office_hours="sun 03:00-03:01", office_timezone="Pacific/Kiritimati"
    )
    with make_client(settings, FakeEmbedder()) as client:
        conversation_id, headers = start_conversation(client)
        reply = client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers).json()
        assert reply["status"] == "waiting"
        assert "offline right now" in reply["reply"]["text"]
        assert "Sunday at 03:00" in reply["reply"]["text"]
        say(client, conversation_id, headers, "you can reach me at sam@example.com")
        context = client.get(
            f"/api/cme/conversations/{conversation_id}", headers=cme_headers(client)[0]
        ).json()
        assert context["conversation"]["customer"]["email"] == "sam@example.com"


def test_goodbye_resolves_and_writing_again_reopens(client):
    conversation_id, headers = start_conversation(client)
    assert say(client, conversation_id, headers, "goodbye").json()["status"] == "resolved"
    again = say(client, conversation_id, headers, "Where are my invoices?").json()
    assert again["status"] == "bot"
    assert again["reply"]["citations"][0]["article_id"] == "billing/invoices"


def test_idle_bot_conversations_are_resolved_and_fresh_ones_are_not(client):
    bot = client.app.state.bot
    stale_id, stale_headers = start_conversation(client)
    say(client, stale_id, stale_headers, "Where are my invoices?")
    fresh_id, fresh_headers = start_conversation(client)
    say(client, fresh_id, fresh_headers, "Where are my invoices?")
    later = utcnow() + timedelta(seconds=bot.settings.idle_resolve_after_s + 1)
    bot.clock = lambda: later
    say(client, fresh_id, fresh_headers, "and how do I export my data?")
    assert resolve_idle(bot) == [stale_id]
    assert messages(client, stale_id, stale_headers)["status"] == "resolved"
    assert messages(client, fresh_id, fresh_headers)["status"] == "bot"


def test_customer_can_withdraw_while_waiting_but_not_once_claimed(client):
    first, headers = start_conversation(client)
    client.post(f"/api/conversations/{first}/handoff", headers=headers)
    withdrawn = client.delete(f"/api/conversations/{first}/handoff", headers=headers)
    assert withdrawn.json()["status"] == "bot"
    second, second_headers = start_conversation(client)
    client.post(f"/api/conversations/{second}/handoff", headers=second_headers)
    client.post(f"/api/cme/conversations/{second}/claim", headers=cme_headers(client)[0])
    refused = client.delete(f"/api/conversations/{second}/handoff", headers=second_headers)
    assert refused.status_code == 409


def test_hand_back_resets_the_bot_so_stale_signals_do_not_re_escalate(client):
    conversation_id, headers = start_conversation(client)
    # Two turns the bot cannot answer: the second escalates on "unanswered".
    say(client, conversation_id, headers, "Can you book me a flight to Lisbon?")
    assert say(client, conversation_id, headers, "Do you sell coffee machines?").json()[
        "status"
    ] == ("waiting")
    cme = cme_headers(client)[0]
    client.post(f"/api/cme/conversations/{conversation_id}/claim", headers=cme)
    client.post(
        f"/api/cme/conversations/{conversation_id}/messages", json={"text": "Hi!"}, headers=cme
    )
    back = client.post(f"/api/cme/conversations/{conversation_id}/hand-back", headers=cme).json()
    assert back["status"] == "bot"
    # One more unanswerable turn: without the reset it would be the third in a row.
    turn = say(client, conversation_id, headers, "What's the weather in Lisbon?").json()
    assert turn["status"] == "bot"
    assert turn["reply"]["role"] == "bot"


def test_only_the_owner_may_reply_and_a_released_chat_can_be_claimed_again(client):
    conversation_id, headers = start_conversation(client)
    client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
    alice, bob = cme_headers(client, 2)
    url = f"/api/cme/conversations/{conversation_id}"
    assert client.post(f"{url}/claim", headers=alice).status_code == 200
    assert client.post(f"{url}/messages", json={"text": "hi"}, headers=bob).status_code == 409
    assert client.post(f"{url}/release", headers=alice).json()["status"] == "waiting"
    assert (
        client.post(f"{url}/messages", json={"text": "still me"}, headers=alice).status_code == 409
    )
    assert client.post(f"{url}/claim", headers=bob).status_code == 200
    assert client.post(f"{url}/messages", json={"text": "Bob here"}, headers=bob).status_code == 200
    roles = [m["role"] for m in messages(client, conversation_id, headers)["messages"]]
    assert roles[-1] == "agent"


def test_vip_from_verified_identity_escalates_an_unanswered_question(tmp_path, database_url):
    from bot.storage import store
    from bot.storage.store import CustomerIdentity

    with make_client(make_settings(tmp_path, database_url), FakeEmbedder()) as client:
        bot = client.app.state.bot
        with bot.db.write() as session:
            conversation, token = store.create_conversation(
                session, customer=CustomerIdentity(id="c1", verified=True, vip=True)
            )
        headers = {"Authorization": f"Bearer {token}"}
        turn = say(client, conversation.id, headers, "Can you book me a flight to Lisbon?").json()
    assert turn["status"] == "waiting"


def test_a_turn_a_crash_left_unanswered_is_answered_after_the_restart(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url)
    with make_client(settings, FakeEmbedder()) as client:
        conversation_id, headers = start_conversation(client)
        with client.app.state.bot.db.write() as session:  # the turn's first commit; then kill -9
            store.add_message(
                session,
                conversation_id=conversation_id,
                role=Role.CUSTOMER,
                text="How do I export my data?",
                client_msg_id="m-1",
                at=utcnow() - timedelta(minutes=2),
            )
    with make_client(settings, FakeEmbedder()) as client:  # the restart
        deadline = time.monotonic() + 20
        while len(listed := messages(client, conversation_id, headers)["messages"]) < 2:
            assert time.monotonic() < deadline, listed
            time.sleep(0.2)
        retry = say(
            client, conversation_id, headers, "How do I export my data?", client_msg_id="m-1"
        )
    assert [m["role"] for m in listed] == ["customer", "bot"]
    assert listed[1]["citations"][0]["article_id"] == "data/export"
    assert retry.json()["reply"] == listed[1]  # a late retry gets the same answer


class BrokenEmbedder(FakeEmbedder):
    """Fails on one customer's words (the KB still indexes)."""

    def encode(self, texts, **kwargs):
        if any("zebra" in text for text in texts):
            raise RuntimeError("model failed")
        return super().encode(texts, **kwargs)


def test_a_stranded_turn_that_fails_again_goes_to_a_person(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url)
    with make_client(settings, FakeEmbedder()) as client:
        conversation_id, headers = start_conversation(client)
        with client.app.state.bot.db.write() as session:
            store.add_message(
                session,
                conversation_id=conversation_id,
                role=Role.CUSTOMER,
                text="my zebra account is stuck",
                at=utcnow() - timedelta(minutes=2),
            )
    with make_client(settings, BrokenEmbedder()) as client:
        deadline = time.monotonic() + 20
        while (listed := messages(client, conversation_id, headers))["status"] != "waiting":
            assert time.monotonic() < deadline, listed
            time.sleep(0.2)
    assert [m["role"] for m in listed["messages"]] == ["customer", "bot"]


def test_resolved_conversations_older_than_the_retention_are_anonymised_keeping_aggregates(
    tmp_path, database_url
):
    from sqlalchemy import select

    from bot.conversation.lifecycle import anonymise_expired
    from bot.storage import Conversation, Csat, Escalation, Message
    from tests.bot.test_erasure import everything_stored

    canary = "CANARYretention42"
    settings = make_settings(tmp_path, database_url, retention_days=30)
    with make_client(settings, FakeEmbedder()) as client:
        bot = client.app.state.bot
        old_id, old_headers = start_conversation(
            client, id=f"cust-{canary}", name=canary, email=f"{canary.lower()}@example.com"
        )
        recent_id, recent_headers = start_conversation(client)
        open_id, open_headers = start_conversation(client)
        for conversation_id, headers in (
            (old_id, old_headers),
            (recent_id, recent_headers),
            (open_id, open_headers),
        ):
            mark = canary if conversation_id == old_id else "thanks"
            say(client, conversation_id, headers, f"How do I export my data? {mark}")
        url = f"/api/conversations/{old_id}"
        assert client.post(f"{url}/handoff", headers=old_headers).status_code == 200
        client.post(f"{url}/csat", json={"rating": 2, "comment": canary}, headers=old_headers)
        with bot.db.write() as session:
            for conversation_id, age_days in ((old_id, 31), (recent_id, 29), (open_id, 90)):
                conversation = store.get_conversation(session, conversation_id=conversation_id)
                conversation.created_at = utcnow() - timedelta(days=age_days)
                if conversation_id != open_id:
                    conversation.status = "resolved"
                    conversation.resolved_at = utcnow() - timedelta(days=age_days)
        stored_before = everything_stored(client)
        assert anonymise_expired(bot) == [old_id]
        assert anonymise_expired(bot) == []  # anonymised once
        assert client.get(f"{url}/messages", headers=old_headers).status_code in (403, 404)
        stored = everything_stored(client)
        assert canary in stored_before.replace(canary.lower(), canary)
        assert canary not in stored and canary.lower() not in stored
        with bot.db.read() as session:
            conversation = session.get(Conversation, old_id)
            assert conversation.status == "resolved" and conversation.channel == "web"
            assert conversation.customer_id is None and conversation.customer_email is None
            kept = session.scalars(
                select(Message).where(Message.conversation_id == old_id).order_by(Message.seq)
            ).all()
            assert [m.role for m in kept][:2] == ["customer", "bot"]
            assert all(m.text == "" and m.embedding is None for m in kept)
            assert kept[0].scores["frustration"] is not None
            [escalation] = session.scalars(
                select(Escalation).where(Escalation.conversation_id == old_id)
            ).all()
            assert escalation.reasons
            [rating] = session.scalars(select(Csat).where(Csat.conversation_id == old_id)).all()
            assert rating.rating == 2 and rating.comment is None
        for conversation_id, headers in ((recent_id, recent_headers), (open_id, open_headers)):
            kept = messages(client, conversation_id, headers)["messages"]
            assert len(kept) == 2 and kept[0]["text"].endswith("thanks")


def test_no_retention_keeps_everything(tmp_path, database_url):
    from bot.conversation.lifecycle import anonymise_expired

    with make_client(make_settings(tmp_path, database_url), FakeEmbedder()) as client:
        bot = client.app.state.bot
        conversation_id, _ = start_conversation(client)
        with bot.db.write() as session:
            conversation = store.get_conversation(session, conversation_id=conversation_id)
            conversation.status = "resolved"
            conversation.resolved_at = utcnow() - timedelta(days=3650)
        assert anonymise_expired(bot) == []
