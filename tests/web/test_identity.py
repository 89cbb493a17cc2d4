"""Verified identity: the canonical string, and conversation creation through the API."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.http.identity import ClaimedIdentity, IdentityRejected, canonical_string, sign, verify
from bot.storage import Conversation
from tests.utils import make_client, make_settings

SECRET = "s3cret"


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    with make_client(
        make_settings(tmp_path, database_url, identity_secret=SECRET), fake_embedder
    ) as client:
        yield client


def stored(client, conversation_id) -> Conversation:
    with client.app.state.bot.db.read() as session:
        return session.get(Conversation, conversation_id)


def test_canonical_string_is_exactly_the_documented_text():
    text = canonical_string(
        customer_id="42", name="Ada Lovelace", email="Ada@Example.com", vip=True
    )
    assert text == (
        "supportbot-identity-v1\nid=42\nname=Ada Lovelace\nemail=Ada@Example.com\nvip=true"
    )
    assert canonical_string(customer_id="7", name=None, email=None, vip=False) == (
        "supportbot-identity-v1\nid=7\nname=\nemail=\nvip=false"
    )


def test_signature_is_hex_hmac_sha256_of_the_canonical_string():
    expected = hmac.new(
        SECRET.encode(), b"supportbot-identity-v1\nid=42\nname=\nemail=\nvip=false", hashlib.sha256
    ).hexdigest()
    assert sign(SECRET, customer_id="42") == expected


@pytest.mark.parametrize(
    ("claimed", "problem"),
    [
        (
            ClaimedIdentity(id="42", vip=True, signature=sign(SECRET, customer_id="42")),
            "does not match",
        ),
        (ClaimedIdentity(id="43", signature=sign(SECRET, customer_id="42")), "does not match"),
        (ClaimedIdentity(id="42", signature=sign("other", customer_id="42")), "does not match"),
        (ClaimedIdentity(signature="0" * 64), "needs a customer id"),
        (
            ClaimedIdentity(id="1\nname=x", signature=sign(SECRET, customer_id="1\nname=x")),
            "line breaks",
        ),
    ],
)
def test_tampered_or_unusable_signatures_are_rejected(claimed, problem):
    with pytest.raises(IdentityRejected, match=problem):
        verify(SECRET, claimed)


def test_signature_without_a_configured_secret_is_rejected():
    with pytest.raises(IdentityRejected, match="SUPPORTBOT_IDENTITY_SECRET"):
        verify("", ClaimedIdentity(id="42", signature=sign(SECRET, customer_id="42")))


def test_valid_signature_creates_a_verified_vip_conversation(client):
    customer = {"id": "cust-42", "name": "Ada Lovelace", "email": "Ada@Example.COM", "vip": True}
    signature = sign(
        SECRET, customer_id="cust-42", name="Ada Lovelace", email="Ada@Example.COM", vip=True
    )
    response = client.post(
        "/api/conversations", json={"customer": {**customer, "signature": signature}}
    )
    assert response.status_code == 201, response.text
    conversation = stored(client, response.json()["id"])
    assert conversation.customer_verified and conversation.vip
    assert conversation.customer_id == "cust-42"
    assert conversation.customer_email == "Ada@example.com"  # stored normalised; signed as sent


def test_bad_signature_is_refused_with_403_naming_the_problem(client):
    signature = sign(SECRET, customer_id="cust-42", vip=False)
    response = client.post(
        "/api/conversations",
        json={"customer": {"id": "cust-42", "vip": True, "signature": signature}},
    )
    assert response.status_code == 403
    assert "signature does not match" in response.json()["detail"]


def test_unsigned_customer_is_stored_unverified_and_never_vip(client):
    response = client.post("/api/conversations", json={"customer": {"id": "cust-42", "vip": True}})
    assert response.status_code == 201
    conversation = stored(client, response.json()["id"])
    assert not conversation.customer_verified and not conversation.vip


def test_malformed_signature_gets_422(client):
    response = client.post("/api/conversations", json={"customer": {"id": "1", "signature": "zz"}})
    assert response.status_code == 422
    assert "signature" in response.json()["detail"]
