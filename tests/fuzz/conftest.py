"""The schemathesis run's app: one server per module on SQLite (or PostgreSQL with
SUPPORTBOT_FUZZ_DATABASE=postgresql), with a customer conversation, CMEs and a few conversations
in every status, and a count of the generated cases per principal for the summary."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import schemathesis
from schemathesis.python import asgi
from sqlalchemy import create_engine, text

from app import create_app
from embedding import FakeEmbedder
from tests.utils import make_cmes, make_settings

DATABASE = os.environ.get("SUPPORTBOT_FUZZ_DATABASE", "sqlite")
CASES: Counter[str] = Counter()
SERVER_ERRORS: Counter[str] = Counter()


@dataclass
class FuzzServer:
    """What the generated cases act on: tokens per principal and conversations that exist."""

    schema: schemathesis.BaseSchema
    customer_conversation: str
    customer_token: str
    cme_token: str
    cme_ids: list[int]
    conversations: list[str] = field(default_factory=list)


def _database(tmp_path_factory, postgres_url: str | None) -> Iterator[str]:
    if DATABASE == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('fuzz-db') / 'fuzz.db'}"
        return
    schema = f"f_{uuid.uuid4().hex[:16]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def fuzz_server(request, tmp_path_factory) -> Iterator[FuzzServer]:
    """A running app, its schema loaded by schemathesis (which runs the app's lifespan)."""
    postgres_url = request.getfixturevalue("postgres_url") if DATABASE != "sqlite" else None
    databases = _database(tmp_path_factory, postgres_url)
    database_url = next(databases)
    settings = make_settings(
        tmp_path_factory.mktemp("fuzz"),
        database_url,
        rate_limit_enabled=False,
        # The admin throttle is always on (tests/bot cover it); thousands of generated admin
        # calls from one address would otherwise meet it, and requests without the token answer
        # 429 instead of 401.
        admin_requests_per_minute=10_000,
        identity_secret="fuzz-identity-secret",
    )
    app = create_app(settings, embedder=FakeEmbedder())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    client = asgi.get_client(app)
    with client:
        with app.state.bot.db.write() as session:
            cmes = make_cmes(session, 2, prefix="fuzz")
            cme_ids = [user.id for user, _ in cmes]
        created = client.post("/api/conversations", json={}).json()
        server = FuzzServer(
            schema=schema,
            customer_conversation=created["id"],
            customer_token=created["token"],
            cme_token=cmes[0][1],
            cme_ids=cme_ids,
            conversations=[created["id"]],
        )
        cme = {"Authorization": f"Bearer {server.cme_token}"}
        for action in ("waiting", "claimed", "resolved", "bot"):
            other = client.post("/api/conversations", json={}).json()
            auth = {"Authorization": f"Bearer {other['token']}"}
            url = f"/api/conversations/{other['id']}"
            client.post(f"{url}/messages", json={"text": "How do I export my data?"}, headers=auth)
            if action != "bot":
                client.post(f"{url}/handoff", headers=auth)
            if action in ("claimed", "resolved"):
                client.post(f"/api/cme/conversations/{other['id']}/claim", headers=cme)
            if action == "resolved":
                client.post(f"/api/cme/conversations/{other['id']}/resolve", headers=cme)
            server.conversations.append(other["id"])
        yield server
    asgi.shutdown_lifespans()
    next(databases, None)


def count_case(principal: str, status: int) -> None:
    """Record one generated case, and whether the server failed it."""
    CASES[principal] += 1
    if status >= 500:
        SERVER_ERRORS[principal] += 1


def pytest_terminal_summary(terminalreporter) -> None:
    if not CASES:
        return
    per_principal = ", ".join(f"{name} {count}" for name, count in sorted(CASES.items()))
    terminalreporter.write_line(
        f"schemathesis ({DATABASE}): {sum(CASES.values())} generated cases ({per_principal}); "
        f"{sum(SERVER_ERRORS.values())} responses >= 500"
    )
