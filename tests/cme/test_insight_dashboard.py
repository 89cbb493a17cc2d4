"""The dashboard's counts equal a separate plain-Python reference over the same stored data, on
SQLite and PostgreSQL; the rollup follows changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.cme.insights import DASHBOARD, Window, drill_down, refresh
from bot.cme.insights.synthetic import Traffic, write
from bot.storage import Conversation, Customer, Database, Feedback, store
from escalation import OfficeHours
from tests.cme.insight_reference import reference

START = datetime(2026, 10, 1, tzinfo=UTC)
END = START + timedelta(days=20)
NOW = END + timedelta(days=3)  # some return windows are still open
SLA_S = 300
ALWAYS = OfficeHours.parse("", "UTC")


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    database.migrate()
    traffic = Traffic(start=START, end=END, customers=40, seed=11)
    for batch in traffic.batches(260, padding=1, size=100):
        write(database, batch)
    refresh(database, now=NOW, hours=ALWAYS, sla_s=SLA_S, similarity=0.6)
    yield database
    database.dispose()


def dashboard(db, window):
    with db.read() as session:
        return {name: query(session, window) for name, query in DASHBOARD.items()}


def drilled(db, window, key):
    with db.read() as session:
        total, rows = drill_down(session, window, key)
    assert total == len(rows)
    return {row["conversation_id"] for row in rows}


@pytest.mark.parametrize(
    "window",
    [
        Window(START, END + timedelta(days=30)),
        Window(START + timedelta(days=4), START + timedelta(days=13)),
        Window(START + timedelta(days=2), START + timedelta(days=18), channel="slack"),
    ],
    ids=["all", "a-window", "slack"],
)
def test_dashboard_counts_equal_the_reference(db, window):
    with db.read() as session:
        expected = reference(
            session,
            start=window.start,
            end=window.end,
            now=NOW,
            sla_s=SLA_S,
            channel=window.channel,
        )
    got = dashboard(db, window)
    resolution = got["resolution"]
    assert resolution["denominator"] == len(expected["counted"]) > 20
    for level in ("confirmed", "assumed", "durable", "ended_not_found"):
        assert resolution[level]["count"] == len(expected[level]), level
        assert drilled(db, window, level) == expected[level], level
    assert expected["confirmed"] and expected["durable"] and expected["ended_not_found"]
    assert expected["assumed"] - expected["durable"]  # returns happened

    escalations = got["escalations"]
    assert escalations["escalated"]["count"] == len(expected["escalated"]) > 0
    assert drilled(db, window, "escalated") == expected["escalated"]
    assert {r["reason"]: r["count"] for r in escalations["reasons"]} == expected["reasons"]
    for reason, count in expected["reasons"].items():
        assert len(drilled(db, window, f"escalated&reason={reason}")) == count

    first = got["first-response"]
    assert first["p50_s"] == pytest.approx(expected["p50"], abs=0.06)
    assert first["p90_s"] == pytest.approx(expected["p90"], abs=0.06)
    assert first["sla_met"]["count"] == len(expected["sla_met"])
    assert first["sla_missed"]["count"] == len(expected["sla_missed"])
    assert drilled(db, window, "sla_missed") == expected["sla_missed"]

    for group, prefix in (("bot_only", "bot_only"), ("human_involved", "human")):
        want = expected["csat"][group]
        assert got["csat"][group]["response_rate"]["denominator"] == want["resolved"]
        assert got["csat"][group]["response_rate"]["count"] == want["rated"]
        assert got["csat"][group]["satisfied"]["count"] == want["satisfied"]
        assert len(drilled(db, window, f"{prefix}_rated")) == want["rated"]

    buckets = {k: v["count"] for k, v in got["frustration"]["buckets"].items() if v["count"]}
    assert buckets == expected["frustration"]

    volume = got["volume"]
    assert {c: f["count"] for c, f in volume["channels"].items()} == expected["channels"]
    heat = {
        d * 24 + h: n
        for d, row in enumerate(volume["hour_of_week"])
        for h, n in enumerate(row)
        if n
    }
    assert heat == expected["heat"]


def test_a_new_conversation_on_a_similar_question_takes_durable_back(db):
    window = Window(START, END + timedelta(days=30))
    with db.read() as session:
        total, rows = drill_down(session, window, "durable")
        row = next(r for r in rows if r["customer_id"])
        first = session.get(Conversation, row["conversation_id"])
        person = session.get(Customer, first.customer_ref)
        history_end = max(
            m.created_at
            for m in store.list_messages(session, conversation_id=row["conversation_id"])
        )
        question = next(
            m
            for m in store.list_messages(session, conversation_id=row["conversation_id"])
            if m.role == "customer" and m.embedding
        )
    # The same person comes back through the other channel (the identity rules join them).
    if first.channel == "web":
        channel, identity = "slack", person.slack_user_id
    else:
        channel, identity = "web", person.external_id
    with db.write() as session:
        again, _ = store.create_conversation(
            session,
            customer=store.CustomerIdentity(id=identity, email=person.email, verified=True),
            channel=channel,
            now=history_end + timedelta(days=2),
        )
        assert again.customer_ref == person.id
        message = store.add_message(
            session,
            conversation_id=again.id,
            role="customer",
            text="same again",
            at=history_end + timedelta(days=2),
        )
        message.embedding = question.embedding
    assert refresh(db, now=NOW, hours=ALWAYS, sla_s=SLA_S, similarity=0.6) >= 2
    with db.read() as session:
        assert len(drill_down(session, window, "durable")[1]) == total - 1
    assert refresh(db, now=NOW, hours=ALWAYS, sla_s=SLA_S, similarity=0.6) == 0


def test_a_thumb_up_given_later_confirms_the_answer(db):
    window = Window(START, END + timedelta(days=30))
    with db.read() as session:
        assumed = {r["conversation_id"]: r for r in drill_down(session, window, "assumed")[1]}
        confirmed = {r["conversation_id"] for r in drill_down(session, window, "confirmed")[1]}
        target = next(cid for cid in assumed if cid not in confirmed)
        answer = next(
            m
            for m in store.list_messages(session, conversation_id=target)
            if m.role == "bot" and (m.decision or {}).get("action") == "answer"
        )
    with db.write() as session:
        session.query(Feedback).filter_by(conversation_id=target).delete()
        store.record_feedback(session, conversation_id=target, seq=answer.seq, helpful=True)
    refresh(db, now=NOW, hours=ALWAYS, sla_s=SLA_S, similarity=0.6)
    with db.read() as session:
        now_confirmed = {r["conversation_id"] for r in drill_down(session, window, "confirmed")[1]}
    assert now_confirmed == confirmed | {target}


ANN_WEB = store.CustomerIdentity(id="ann", email="ann@example.com", verified=True)
RETURNS = [
    pytest.param(
        ("web", ANN_WEB),
        ("slack", store.CustomerIdentity(id="U0ANN", email="ann@example.com", verified=True)),
        True,
        id="signed-widget-customer-back-in-slack-with-her-verified-email",
    ),
    pytest.param(
        ("slack", store.CustomerIdentity(id="U0ANN", email="ann@example.com", verified=True)),
        ("web", ANN_WEB),
        True,
        id="slack-user-back-in-the-widget-signed-with-the-same-email",
    ),
    pytest.param(
        ("web", ANN_WEB),
        ("slack", store.CustomerIdentity(id="U0BOB", email="bob@example.com", verified=True)),
        False,
        id="another-slack-user",
    ),
    pytest.param(
        ("web", ANN_WEB),
        ("web", store.CustomerIdentity(id="ann")),  # an unsigned id is a hint, never a join
        False,
        id="unsigned-same-customer-id",
    ),
    pytest.param(
        ("web", store.CustomerIdentity(visitor_id="browser-1")),
        ("web", store.CustomerIdentity(visitor_id="browser-1")),
        True,
        id="anonymous-visitor-same-browser",
    ),
]


@pytest.mark.parametrize(("first", "second", "returned"), RETURNS)
def test_a_return_is_the_same_customer_record_in_any_channel(database_url, first, second, returned):
    """Two days after a silent answer the customer asks the same again, maybe elsewhere: the
    first conversation stays assumed, and is durable only if it was someone else."""
    database = Database(database_url)
    database.migrate()
    vector = np.asarray([1.0, 0, 0, 0], dtype=np.float32).tobytes()
    ids = []
    try:
        for (channel, identity), at in (
            (first, START),
            (second, START + timedelta(days=2)),
        ):
            with database.write() as session:
                conversation, _ = store.create_conversation(
                    session, customer=identity, channel=channel, now=at
                )
                question = store.add_message(
                    session, conversation_id=conversation.id, role="customer", text="Q", at=at
                )
                question.embedding = vector
                store.add_message(
                    session,
                    conversation_id=conversation.id,
                    role="bot",
                    text="A",
                    decision={"action": "answer", "reasons": []},
                    at=at + timedelta(seconds=5),
                )
                ids.append(conversation.id)
        refresh(database, now=NOW, hours=ALWAYS, sla_s=SLA_S, similarity=0.6)
        window = Window(START, END)
        with database.read() as session:
            durable = {r["conversation_id"] for r in drill_down(session, window, "durable")[1]}
            assumed = {r["conversation_id"] for r in drill_down(session, window, "assumed")[1]}
            expected = reference(session, start=START, end=END, now=NOW, sla_s=SLA_S)
        assert assumed == set(ids) == expected["assumed"]
        assert (ids[0] in durable) is not returned
        assert durable == expected["durable"] == {ids[1]} | (set() if returned else {ids[0]})
    finally:
        database.dispose()
