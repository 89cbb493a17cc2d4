"""The CME customer API (issue 15): the customer page's data reached from a conversation,
health with its why, notes that persist across conversations, and the at-risk list."""

from __future__ import annotations

import time
from datetime import timedelta

from bot.cme.recompute import recompute
from bot.http.identity import sign_v2
from tests.utils import make_client, make_cmes, make_settings, say

SECRET = "identity-secret-of-at-least-32-characters!"


def start_signed(client, customer_id: str, name: str | None = None) -> tuple[str, dict]:
    expires = int(time.time()) + 3600
    signature = sign_v2(SECRET, customer_id=customer_id, expires=expires, name=name)
    customer = {"id": customer_id, "expires": expires, "signature": signature, "name": name}
    created = client.post("/api/conversations", json={"customer": customer}).json()
    return created["id"], {"Authorization": f"Bearer {created['token']}"}


def test_customer_page_from_a_conversation(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, identity_secret=SECRET, health_poll_s=0)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        with bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        cme = {"Authorization": f"Bearer {token}"}
        first_id, first = start_signed(client, "grace", name="Grace")
        say(client, first_id, first, "How do I export my data?")
        say(client, first_id, first, "thanks, bye")
        client.post(f"/api/conversations/{first_id}/csat", json={"rating": 5}, headers=first)
        second_id, second = start_signed(client, "grace", name="Grace")
        say(client, second_id, second, "I need a refund for my annual plan")
        client.post(f"/api/conversations/{second_id}/handoff", headers=second)

        packet = client.get(f"/api/cme/conversations/{second_id}", headers=cme).json()
        record = packet["conversation"]["customer"]["record_id"]
        assert record is not None
        note = client.post(
            f"/api/cme/customers/{record}/notes", json={"text": "Prefers e-mail"}, headers=cme
        )
        assert note.status_code == 201, note.text
        recompute(bot.db, bot.settings, now=bot.clock())

        page = client.get(f"/api/cme/customers/{record}", headers=cme)
        assert page.status_code == 200, page.text
        detail = page.json()
        assert detail["customer"]["name"] == "Grace" and detail["customer"]["conversations"] == 2
        assert detail["customer"]["channels"] == ["web"]
        timeline = {c["id"]: c for c in detail["timeline"]}
        assert timeline[first_id]["outcome"] == "good"
        assert timeline[first_id]["csat"][0]["rating"] == 5
        assert timeline[second_id]["escalations"][0]["reasons"]
        assert [n["text"] for n in detail["notes"]] == ["Prefers e-mail"]
        why = {c["name"]: c for c in detail["health"]["why"]}
        assert why["escalations"]["contribution"] < 0 < why["good_outcomes"]["contribution"]
        assert "csat" in why and "nps" not in why  # no NPS answer: skipped
        assert detail["health"]["score"] is not None and detail["health"]["trend"]

        # The note is on the customer, so the next conversation's page shows it too.
        third_id, _ = start_signed(client, "grace", name="Grace")
        third = client.get(f"/api/cme/conversations/{third_id}", headers=cme).json()
        assert third["conversation"]["customer"]["record_id"] == record
        again = client.get(f"/api/cme/customers/{record}", headers=cme).json()
        assert [n["text"] for n in again["notes"]] == ["Prefers e-mail"]


def unhappy(client, customer_id: str) -> None:
    """A conversation that ends with a person and a rating of 1."""
    conversation_id, headers = start_signed(client, customer_id)
    say(client, conversation_id, headers, "How do I export my data?")
    url = f"/api/conversations/{conversation_id}"
    assert client.post(f"{url}/handoff", headers=headers).status_code == 200
    assert client.post(f"{url}/csat", json={"rating": 1}, headers=headers).status_code == 200


def test_at_risk_list_sorted_by_recent_drop(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, identity_secret=SECRET, health_poll_s=0)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        with bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        cme = {"Authorization": f"Bearer {token}"}
        # Two customers in trouble: "steep" fell from a good start, "flat" was never good.
        steep_id, steep = start_signed(client, "steep")
        say(client, steep_id, steep, "How do I export my data?")
        say(client, steep_id, steep, "thanks, bye")
        for _ in range(3):
            unhappy(client, "flat")
        recompute(bot.db, bot.settings, now=bot.clock())
        for _ in range(3):
            unhappy(client, "steep")
        recompute(bot.db, bot.settings, now=bot.clock() + timedelta(days=8))
        listed = client.get("/api/cme/customers?at_risk=true", headers=cme).json()["customers"]
        assert [c["external_id"] for c in listed] == ["steep", "flat"]
        assert all(c["health_tier"] == "at_risk" for c in listed)
        assert listed[0]["health_drop"] > listed[1]["health_drop"]
        everyone = client.get("/api/cme/customers", headers=cme).json()["customers"]
        assert {c["external_id"] for c in everyone} == {"steep", "flat"}


def test_customer_routes_refuse_bad_input_with_4xx(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, health_poll_s=0)
    with make_client(settings, fake_embedder) as client:
        with client.app.state.bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        cme = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/cme/customers/999", headers=cme).status_code == 404
        assert client.get("/api/cme/customers/0", headers=cme).status_code == 422
        assert client.get("/api/cme/customers?limit=100000", headers=cme).status_code == 422
        assert client.get("/api/cme/customers/1").status_code == 401
        blank = client.post("/api/cme/customers/1/notes", json={"text": "   "}, headers=cme)
        assert blank.status_code == 422
        missing = client.post("/api/cme/customers/999/notes", json={"text": "hi"}, headers=cme)
        assert missing.status_code == 404
