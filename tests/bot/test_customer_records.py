"""Customer records (issue 15): every conversation links to one customer by the identity rules,
existing conversations are migrated, and nothing unverified merges two customers."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from bot.http.identity import sign_v2
from bot.storage import Conversation, Customer, Database
from bot.storage.db import alembic_config
from tests.utils import make_client, make_settings

SECRET = "identity-secret-of-at-least-32-characters!"


def _conversation_row(**overrides) -> dict:
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    row = {
        "id": uuid.uuid4().hex,
        "token_hash": uuid.uuid4().hex,
        "channel": "web",
        "channel_ref": None,
        "customer_id": None,
        "customer_name": None,
        "customer_email": None,
        "customer_company": None,
        "customer_verified": False,
        "vip": False,
        "status": "resolved",
        "owner_id": None,
        "last_seq": 0,
        "bot_since_seq": 0,
        "reopened_from": None,
        "created_at": now,
        "updated_at": now,
        "resolved_at": now,
    }
    return row | overrides


def test_migration_links_existing_conversations_without_merging_unverified(database_url):
    db = Database(database_url)
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    conversations = sa.table("conversations", *(sa.column(c) for c in _conversation_row()))
    csat = sa.table(
        "csat", sa.column("conversation_id"), sa.column("rating"), sa.column("created_at")
    )
    web_a1 = _conversation_row(customer_id="acme-42", customer_verified=True, vip=True)
    web_a2 = _conversation_row(customer_id="acme-42", customer_verified=True, resolved_at=None)
    slack = _conversation_row(channel="slack", customer_id="U123", customer_verified=True)
    # The same claimed id, unsigned: must not join acme-42 nor each other.
    loose_1 = _conversation_row(customer_id="acme-42")
    loose_2 = _conversation_row(customer_id="acme-42")
    rows = [web_a1, web_a2, slack, loose_1, loose_2]
    with db.engine.begin() as connection:
        connection.execute(sa.insert(conversations), rows)
        connection.execute(
            sa.insert(csat),
            [{"conversation_id": web_a1["id"], "rating": 4, "created_at": web_a1["created_at"]}],
        )
    db.migrate()
    with db.read() as session:
        ref = {c.id: c.customer_ref for c in session.scalars(sa.select(Conversation))}
        assert all(value is not None for value in ref.values())
        assert ref[web_a1["id"]] == ref[web_a2["id"]]
        assert (
            len({ref[web_a1["id"]], ref[slack["id"]], ref[loose_1["id"]], ref[loose_2["id"]]}) == 4
        )
        acme = session.get(Customer, ref[web_a1["id"]])
        assert acme.external_id == "acme-42" and acme.vip
        assert session.get(Customer, ref[slack["id"]]).slack_user_id == "U123"
        assert session.get(Customer, ref[loose_1["id"]]).external_id is None
        resolutions = {c.id: c.resolutions for c in session.scalars(sa.select(Conversation))}
        assert resolutions[web_a1["id"]] == 1 and resolutions[web_a2["id"]] == 0
        rating = session.execute(sa.text("SELECT rating, resolution FROM csat")).one()
        assert tuple(rating) == (4, 1)
    # New CSAT rows get fresh ids after the rebuilt table (PostgreSQL's sequence continues).
    with db.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO csat (conversation_id, resolution, rating, created_at) "
                "VALUES (:c, 2, 5, :at)"
            ),
            {"c": web_a1["id"], "at": datetime.now(UTC).replace(tzinfo=None)},
        )
    db.dispose()


def _signed(customer_id: str, **fields) -> dict:
    expires = int(time.time()) + 3600
    signature = sign_v2(SECRET, customer_id=customer_id, expires=expires, **fields)
    return {"id": customer_id, "expires": expires, "signature": signature, **fields}


def _customer_of(client, conversation_id: str) -> int:
    with client.app.state.bot.db.read() as session:
        return session.get(Conversation, conversation_id).customer_ref


def test_new_conversations_link_by_verified_identity_and_visitor_id(
    tmp_path, database_url, fake_embedder
):
    settings = make_settings(tmp_path, database_url, identity_secret=SECRET)
    with make_client(settings, fake_embedder) as client:

        def start(body: dict) -> str:
            response = client.post("/api/conversations", json=body)
            assert response.status_code == 201, response.text
            return response.json()["id"]

        signed = _signed("cust-7", email="Ada@Example.com", company="Acme")
        first = start({"customer": signed})
        second = start({"customer": _signed("cust-7", email="Ada@Example.com", company="Acme")})
        assert _customer_of(client, first) == _customer_of(client, second)

        browser = "visitor-" + uuid.uuid4().hex
        anonymous_1 = start({"visitor_id": browser})
        anonymous_2 = start({"visitor_id": browser})
        assert _customer_of(client, anonymous_1) == _customer_of(client, anonymous_2)
        # Claiming cust-7 without a signature, from the same browser: still the visitor.
        claimed = start({"visitor_id": browser, "customer": {"id": "cust-7"}})
        assert _customer_of(client, claimed) == _customer_of(client, anonymous_1)
        assert _customer_of(client, claimed) != _customer_of(client, first)
        # After reset() the widget has a new visitor id: a new customer.
        fresh = start({"visitor_id": "visitor-" + uuid.uuid4().hex})
        assert _customer_of(client, fresh) != _customer_of(client, anonymous_1)
        # No visitor id, no identity: a customer of their own each time.
        assert _customer_of(client, start({})) != _customer_of(client, start({}))

        # Another signed id with the same e-mail is another customer, not a merge.
        other = start({"customer": _signed("cust-8", email="ada@example.com")})
        assert _customer_of(client, other) != _customer_of(client, first)

        with client.app.state.bot.db.read() as session:
            record = session.get(Customer, _customer_of(client, first))
            assert (record.external_id, record.email, record.company) == (
                "cust-7",
                "ada@example.com",
                "Acme",
            )
