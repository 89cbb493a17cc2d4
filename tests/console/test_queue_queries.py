"""The queue loads in a fixed number of SQL statements, however many cards it shows (the review
of issue 19 found ~5 queries and the full history per card); on SQLite and PostgreSQL."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from bot.cme.context import queue
from bot.cme.search import ConversationQuery, search_conversations
from tests.console.conftest import console_app, make_cme
from tests.utils import make_settings, say, start_conversation


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    app = console_app(make_settings(tmp_path, database_url), fake_embedder)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@contextmanager
def counted(engine):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def escalate(client: TestClient, n: int, known: bool = False) -> str:
    customer = {"id": f"cust-{n}", "name": f"Customer {n}"} if known else {}
    conversation_id, headers = start_conversation(client, **customer)
    say(client, conversation_id, headers, f"How do I export my data as CSV, case {n}?")
    say(client, conversation_id, headers, "thanks")
    response = client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
    assert response.status_code == 200, response.text
    return conversation_id


def test_the_queue_of_twenty_cards_takes_as_many_statements_as_one(client):
    bot = client.app.state.bot
    alice = make_cme(client.app, email="alice@example.com", name="Alice Agent")
    first = escalate(client, 0, known=True)
    client.post(f"/api/cme/conversations/{first}/claim", headers=alice.bearer)

    with counted(bot.db.engine) as one:
        [card] = queue(bot)
    assert card.main_question == "How do I export my data as CSV, case 0?"
    assert card.latest_message == "thanks" and card.customer.name == "Customer 0"

    for n in range(1, 20):
        escalate(client, n, known=n % 2 == 1)
    with counted(bot.db.engine) as twenty:
        cards = queue(bot)
    assert len(cards) == 20
    assert {c.main_question for c in cards} == {
        f"How do I export my data as CSV, case {n}?" for n in range(20)
    }
    assert len(twenty) == len(one) <= 8, (one, twenty)

    with counted(bot.db.engine) as searched:
        rows = search_conversations(bot, ConversationQuery())
    assert len(rows) == 20
    assert len(searched) <= len(one) + 2, searched
