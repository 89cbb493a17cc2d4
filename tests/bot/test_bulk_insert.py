"""Bulk loading for generated data: COPY on PostgreSQL, one executemany on SQLite; the rows read
back as the ORM would have written them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.storage import Conversation, Customer, Database, Message, Role, store
from bot.storage.bulk import insert_rows, uniform

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


def test_rows_of_different_shapes_read_back_with_defaults_json_and_aware_times(db):
    with db.write() as session:
        insert_rows(
            session,
            Customer.__table__,
            [
                {"id": 7, "external_id": "ann", "company": "Acme", "created_at": AT},
                {"id": 9, "visitor_id": "browser-1", "last_seen_at": AT},
            ],
        )
        insert_rows(
            session,
            Conversation.__table__,
            [
                {
                    "id": "c1",
                    "token_hash": "h1",
                    "customer_ref": 7,
                    "status": "resolved",
                    "created_at": AT,
                    "updated_at": AT,
                    "resolved_at": AT,
                }
            ],
        )
        count = insert_rows(
            session,
            Message.__table__,
            [
                {
                    "conversation_id": "c1",
                    "seq": 1,
                    "role": Role.CUSTOMER,
                    "text": 'Tab\\there, "quotes", newline\nand ünïcode',
                    "created_at": AT,
                    "scores": {"frustration": 0.25, "signals": [{"name": "caps"}]},
                    "embedding": b"\x00\x01\xff",
                },
                {
                    "conversation_id": "c1",
                    "seq": 2,
                    "role": Role.BOT,
                    "text": "answer",
                    "created_at": AT,
                    "reply_to": 1,
                    "decision": {"action": "answer", "reasons": []},
                },
            ],
        )
    assert count == 2
    with db.read() as session:
        ann, visitor = session.scalars(select(Customer).order_by(Customer.id)).all()
        question, answer = store.list_messages(session, conversation_id="c1")
        conversation = session.get(Conversation, "c1")
    assert (ann.id, ann.external_id, ann.company, ann.created_at) == (7, "ann", "Acme", AT)
    # Left out: the columns' defaults, as an INSERT of the model gives them.
    assert ann.vip is False and ann.health_stale is True and ann.health_components == []
    assert visitor.visitor_id == "browser-1" and visitor.external_id is None
    assert visitor.last_seen_at == AT and visitor.created_at.tzinfo is not None
    assert question.text == 'Tab\\there, "quotes", newline\nand ünïcode'
    assert question.scores == {"frustration": 0.25, "signals": [{"name": "caps"}]}
    assert question.embedding == b"\x00\x01\xff" and question.decision is None
    assert question.citations == [] and question.role == "customer"
    assert answer.decision == {"action": "answer", "reasons": []} and answer.reply_to == 1
    assert conversation.customer_ref == 7 and conversation.resolved_at == AT
    assert conversation.last_seq == 0 and conversation.vip is False


def test_explicit_ids_do_not_collide_with_later_inserts(db):
    with db.write() as session:
        insert_rows(session, Customer.__table__, [{"id": n, "created_at": AT} for n in (1, 2, 3)])
    with db.write() as session:
        later = Customer(visitor_id="later", health_components=[])
        session.add(later)
        session.flush()
        assert later.id == 4


def test_an_unknown_column_is_refused_before_anything_is_written():
    with pytest.raises(KeyError, match="no column"):
        uniform(Customer.__table__, [{"id": 1, "nickname": "x"}])
