"""Verified identity: the canonical string, and conversation creation through the API."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

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


# ---- supportbot-identity-v2 (issue 14, finding 7) ------------------------------------------


def signed_v2(
    customer_id: str,
    *,
    expires: int,
    name: str = "",
    email: str = "",
    company: str = "",
    vip: bool = False,
    secret: str = SECRET,
) -> str:
    """The documented v2 signature, computed here independently of the server's code."""
    canonical = "\n".join(
        [
            "supportbot-identity-v2",
            f"id={customer_id}",
            f"name={name}",
            f"email={email}",
            f"company={company}",
            f"vip={'true' if vip else 'false'}",
            f"expires={expires}",
        ]
    )
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def create_v2(client, *, sent: dict | None = None, expires_in: int = 600, **fields):
    expires = int(time.time()) + expires_in
    signature = signed_v2("cust-42", expires=expires, **fields)
    customer = {"id": "cust-42", **fields, **(sent or {}), "expires": expires}
    return client.post(
        "/api/conversations", json={"customer": {**customer, "signature": signature}}
    )


def test_v2_identity_with_a_company_creates_a_verified_conversation(client):
    response = create_v2(client, name="Ada", company="Acme Corp", vip=True)
    assert response.status_code == 201, response.text
    conversation = stored(client, response.json()["id"])
    assert conversation.customer_verified and conversation.vip
    assert (conversation.customer_name, conversation.customer_company) == ("Ada", "Acme Corp")


@pytest.mark.parametrize(
    ("expires_in", "sent", "problem"),
    [
        (-60, None, "expired"),
        (400 * 86400, None, "expires too far"),
        (600, {"company": "Globex"}, "does not match"),
        (600, {"vip": True}, "does not match"),
    ],
)
def test_expired_far_or_tampered_v2_identity_gets_403(client, expires_in, sent, problem):
    response = create_v2(client, sent=sent, expires_in=expires_in, company="Acme Corp")
    assert response.status_code == 403, response.text
    assert problem in response.json()["detail"]


def test_v1_identity_is_accepted_until_the_transition_date_only(tmp_path, fake_embedder):
    signature = sign(SECRET, customer_id="cust-42")
    body = {"customer": {"id": "cust-42", "signature": signature}}
    today = datetime.now(UTC).date()
    statuses = {}
    for name, until in (
        ("before", today + timedelta(days=1)),
        ("after", today - timedelta(days=1)),
    ):
        settings = make_settings(
            tmp_path / name,
            f"sqlite:///{tmp_path / f'{name}.db'}",
            identity_secret=SECRET,
            identity_v1_until=until.isoformat(),
        )
        with make_client(settings, fake_embedder) as client:
            response = client.post("/api/conversations", json=body)
            statuses[name] = (response.status_code, response.json().get("detail", ""))
    assert statuses["before"][0] == 201
    assert statuses["after"][0] == 403 and "supportbot-identity-v2" in statuses["after"][1]


def test_verified_customers_new_conversations_are_limited_per_customer(
    tmp_path, database_url, fake_embedder
):
    settings = make_settings(
        tmp_path,
        database_url,
        identity_secret=SECRET,
        rate_limit_conversations_per_hour=100,
        rate_limit_conversations_per_customer_per_hour=2,
    )

    def create(customer_id: str) -> int:
        signature = sign(SECRET, customer_id=customer_id)
        customer = {"id": customer_id, "signature": signature}
        return client.post("/api/conversations", json={"customer": customer}).status_code

    with make_client(settings, fake_embedder) as client:
        assert [create("cust-42") for _ in range(3)] == [201, 201, 429]
        assert create("cust-43") == 201
