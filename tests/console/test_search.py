"""Search over every conversation, through the CME API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.console.conftest import console_app, make_cme
from tests.utils import make_settings, say, start_conversation


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    app = console_app(make_settings(tmp_path, database_url), fake_embedder)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.alice = make_cme(app, email="alice@example.com", name="Alice")
        yield client


def found(client: TestClient, **params) -> list[str]:
    response = client.get("/api/cme/search", params=params, headers=client.alice.bearer)
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["conversations"]]


def test_a_word_from_the_middle_of_a_conversation_finds_it(client):
    grace, headers = start_conversation(client, name="Grace Hopper", email="grace@navy.example")
    say(client, grace, headers, "How do I export my data?")
    say(client, grace, headers, "The zebrafish project timesheet is missing")
    say(client, grace, headers, "thanks, bye")
    other, other_headers = start_conversation(client)
    say(client, other, other_headers, "Where can I download my invoices?")

    assert found(client, q="zebrafish") == [grace]
    assert found(client, q="ZEBRAFISH timesheet") == [grace]
    assert found(client, q="zebrafish invoices") == []  # every word must match
    assert found(client, q="hopper") == [grace]  # the customer's name
    assert found(client, q="navy.example") == [grace]
    assert found(client, q="%") == [] and found(client, q="_") == []  # no wildcards
    row = client.get(
        "/api/cme/search", params={"q": "zebrafish"}, headers=client.alice.bearer
    ).json()["conversations"][0]
    assert "zebrafish project" in row["match"]
    assert row["main_question"]


def test_status_article_and_dates_narrow_the_search(client):
    resolved, headers = start_conversation(client)
    say(client, resolved, headers, "How do I export my data?")
    client.post(f"/api/cme/conversations/{resolved}/resolve", headers=client.alice.bearer)
    open_one, headers = start_conversation(client)
    say(client, open_one, headers, "Where can I download my invoices?")

    assert found(client, status="resolved") == [resolved]
    assert found(client, status="bot") == [open_one]
    assert found(client, article="data/export") == [resolved]
    assert found(client, article="billing/invoices") == [open_one]
    today = client.app.state.bot.clock().date()
    assert sorted(found(client, since=str(today))) == sorted([resolved, open_one])
    assert found(client, until=str(today)) == []
    assert found(client, since=str(today + timedelta(days=1))) == []


@pytest.mark.parametrize(
    "params",
    [{"q": "x" * 201}, {"status": "lost"}, {"since": "yesterday"}, {"article": "a" * 301}],
)
def test_bad_search_parameters_get_422(client, params):
    response = client.get("/api/cme/search", params=params, headers=client.alice.bearer)
    assert response.status_code == 422


def test_search_needs_a_cme(client):
    assert client.get("/api/cme/search", params={"q": "x"}).status_code == 401
