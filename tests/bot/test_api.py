"""The customer REST API through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.utils import ADMIN_TOKEN, make_client, make_settings, say, start_conversation


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    with make_client(make_settings(tmp_path, database_url), fake_embedder) as client:
        yield client


def test_conversation_answers_from_kb_with_citation(client):
    conversation_id, headers = start_conversation(client, name="Ada", email="ada@example.com")
    response = say(client, conversation_id, headers, "How do I download my invoices as PDF?")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "bot"
    assert body["message"]["role"] == "customer"
    reply = body["reply"]
    assert reply["role"] == "bot"
    assert reply["citations"][0]["article_id"] == "billing/invoices"
    assert reply["citations"][0]["url"].startswith("http://127.0.0.1:8000/kb/billing/invoices")
    assert reply["seq"] == body["message"]["seq"] + 1
    assert 0 <= reply["confidence"] <= 1


def test_token_is_long_and_random(client):
    tokens = {client.post("/api/conversations").json()["token"] for _ in range(3)}
    assert len(tokens) == 3
    assert all(len(token) >= 32 for token in tokens)  # 32 url-safe chars carry >= 192 bits


def test_same_client_msg_id_stores_one_message_and_returns_same_reply(client):
    conversation_id, headers = start_conversation(client)
    first = say(client, conversation_id, headers, "How do I export my data?", client_msg_id="m-1")
    second = say(client, conversation_id, headers, "How do I export my data?", client_msg_id="m-1")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    messages = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers).json()
    assert [m["role"] for m in messages["messages"]] == ["customer", "bot"]


def test_messages_after_seq_returns_only_newer_in_order(client):
    conversation_id, headers = start_conversation(client)
    say(client, conversation_id, headers, "How do I export my data?")
    say(client, conversation_id, headers, "Where are my invoices?")
    everything = client.get(
        f"/api/conversations/{conversation_id}/messages", headers=headers
    ).json()
    seqs = [m["seq"] for m in everything["messages"]]
    assert seqs == sorted(seqs) == list(range(1, 5))
    newer = client.get(
        f"/api/conversations/{conversation_id}/messages?after=2", headers=headers
    ).json()
    assert [m["seq"] for m in newer["messages"]] == [3, 4]


def test_token_of_one_conversation_cannot_read_or_write_another(client):
    first_id, first_headers = start_conversation(client)
    second_id, _ = start_conversation(client)
    read = client.get(f"/api/conversations/{second_id}/messages", headers=first_headers)
    write = say(client, second_id, first_headers, "hello")
    assert read.status_code == write.status_code == 403
    assert "token" in read.json()["detail"]


@pytest.mark.parametrize(
    ("body", "expect_in_detail"),
    [
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 50_000}, "text"),
        ({"text": "x" * 4001}, "4000"),
        ({}, "text"),
        ({"text": "hi", "client_msg_id": "bad id with spaces"}, "client_msg_id"),
        ({"text": "hi", "surprise": 1}, "surprise"),
    ],
)
def test_invalid_message_gets_422_naming_the_field(client, body, expect_in_detail):
    conversation_id, headers = start_conversation(client)
    response = client.post(
        f"/api/conversations/{conversation_id}/messages", json=body, headers=headers
    )
    assert response.status_code == 422, response.text
    assert expect_in_detail in response.json()["detail"]


def test_malformed_json_gets_422(client):
    conversation_id, headers = start_conversation(client)
    response = client.post(
        f"/api/conversations/{conversation_id}/messages",
        content=b'{"text": "unterminated',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "JSON" in response.json()["detail"]


def test_oversized_body_gets_413(client):
    conversation_id, headers = start_conversation(client)
    response = client.post(
        f"/api/conversations/{conversation_id}/messages",
        content=b'{"text": "' + b"a" * 200_000 + b'"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer nope"}, 403), ({"Authorization": "Basic abc"}, 401)],
)
def test_bad_or_missing_token_is_rejected(client, headers, status):
    conversation_id, _ = start_conversation(client)
    response = say(client, conversation_id, headers, "hello")
    assert response.status_code == status
    assert response.json()["detail"]


def test_unknown_conversation_gets_404(client):
    _, headers = start_conversation(client)
    response = say(client, "0" * 32, headers, "hello")
    assert response.status_code == 404
    assert "does not exist" in response.json()["detail"]


def test_invalid_customer_email_gets_422(client):
    response = client.post("/api/conversations", json={"customer": {"email": "not-an-email"}})
    assert response.status_code == 422
    assert "email" in response.json()["detail"]


def test_feedback_on_bot_answer_is_recorded_and_on_customer_message_refused(client):
    conversation_id, headers = start_conversation(client)
    turn = say(client, conversation_id, headers, "How do I export my data?").json()
    url = f"/api/conversations/{conversation_id}/feedback"
    ok = client.post(url, json={"seq": turn["reply"]["seq"], "helpful": False}, headers=headers)
    assert ok.status_code == 200
    refused = client.post(
        url, json={"seq": turn["message"]["seq"], "helpful": True}, headers=headers
    )
    assert refused.status_code == 409
    missing = client.post(url, json={"seq": 99, "helpful": True}, headers=headers)
    assert missing.status_code == 404


def test_handoff_queues_once_and_bot_stays_silent(client):
    conversation_id, headers = start_conversation(client)
    url = f"/api/conversations/{conversation_id}/handoff"
    first = client.post(url, headers=headers).json()
    assert first["status"] == "waiting"
    assert "support team" in first["reply"]["text"]
    second = client.post(url, headers=headers).json()
    assert second == {"reply": None, "status": "waiting"}
    turn = say(client, conversation_id, headers, "How do I export my data?").json()
    assert turn["reply"] is None
    assert turn["status"] == "waiting"


def test_csat_accepts_one_rating_between_1_and_5(client):
    conversation_id, headers = start_conversation(client)
    url = f"/api/conversations/{conversation_id}/csat"
    assert client.post(url, json={"rating": 6}, headers=headers).status_code == 422
    assert (
        client.post(url, json={"rating": 5, "comment": "great"}, headers=headers).status_code == 200
    )
    assert client.post(url, json={"rating": 4}, headers=headers).status_code == 409


def test_customer_never_sees_internal_scores(client):
    conversation_id, headers = start_conversation(client)
    turn = say(client, conversation_id, headers, "THIS IS TERRIBLE, nothing works!!!").json()
    listing = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers).json()
    for message in [turn["message"], *listing["messages"]]:
        assert not {"scores", "signals", "frustration", "retrieval", "decision"} & set(message)


def test_html_pages_carry_security_headers(client):
    response = client.get("/kb/billing/invoices")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "model": True, "index": True}


def test_admin_reload_requires_token_and_reports_changes(client, tmp_path):
    assert client.post("/api/admin/kb/reload").status_code == 401
    bad = client.post("/api/admin/kb/reload", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401
    (tmp_path / "kb" / "new.md").write_text("---\ntitle: Brand new\n---\nFresh content here.\n")
    ok = client.post("/api/admin/kb/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert ok.status_code == 200
    assert ok.json()["added"] == ["new"]


def test_admin_kb_status_reports_the_answer_gate(client):
    assert client.get("/api/admin/kb").status_code == 401
    status = client.get("/api/admin/kb", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status.status_code == 200
    body = status.json()
    assert body["articles"] == len(client.app.state.bot.kb.articles()) > 0
    gate = body["answer_gate"]
    assert gate["threshold"] == client.app.state.bot.kb.threshold
    assert gate["target_precision"] == 0.9
    # The test KB is too small to simulate its traffic: the default gate, said so.
    assert gate["source"].startswith("default") and "calibration" not in gate


def test_openapi_documents_the_customer_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/conversations/{conversation_id}/messages" in paths
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_admin_embedding_counts_batches_by_size(client):
    assert client.get("/api/admin/embedding").status_code == 401
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    before = client.get("/api/admin/embedding", headers=headers).json()
    conversation_id, customer = start_conversation(client)
    assert say(client, conversation_id, customer, "How do I reset my password?").status_code == 200
    after = client.get("/api/admin/embedding", headers=headers).json()
    batched = sum(int(size) * n for size, n in after["batch_sizes"].items())
    assert batched > sum(int(size) * n for size, n in before["batch_sizes"].items())
    assert sum(after["texts_encoded"].values()) > sum(before["texts_encoded"].values())
