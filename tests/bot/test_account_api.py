"""B2B accounts (issue 15): customers roll up by their verified company (data-customer-company);
the CME API lists accounts with health, members and members at risk, and shows one account."""

from __future__ import annotations

import time

from bot.cme.recompute import recompute
from bot.http.identity import sign_v2
from tests.utils import make_client, make_cmes, make_settings, say

SECRET = "identity-secret-of-at-least-32-characters!"


def start(client, customer_id: str, company: str | None, *, signed: bool = True):
    expires = int(time.time()) + 3600
    customer = {"id": customer_id, "company": company}
    if signed:
        signature = sign_v2(SECRET, customer_id=customer_id, expires=expires, company=company)
        customer |= {"expires": expires, "signature": signature}
    created = client.post("/api/conversations", json={"customer": customer})
    assert created.status_code == 201, created.text
    body = created.json()
    return body["id"], {"Authorization": f"Bearer {body['token']}"}


def happy(client, customer_id: str, company: str | None, **kwargs) -> None:
    conversation_id, headers = start(client, customer_id, company, **kwargs)
    say(client, conversation_id, headers, "How do I export my data?")
    say(client, conversation_id, headers, "thanks, bye")
    url = f"/api/conversations/{conversation_id}/csat"
    assert client.post(url, json={"rating": 5}, headers=headers).status_code == 200


def unhappy(client, customer_id: str, company: str | None) -> None:
    conversation_id, headers = start(client, customer_id, company)
    say(client, conversation_id, headers, "How do I export my data?")
    url = f"/api/conversations/{conversation_id}"
    assert client.post(f"{url}/handoff", headers=headers).status_code == 200
    assert client.post(f"{url}/csat", json={"rating": 1}, headers=headers).status_code == 200


def test_accounts_roll_customers_up_by_verified_company(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, identity_secret=SECRET, health_poll_s=0)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        with bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        cme = {"Authorization": f"Bearer {token}"}
        # Acme: one customer in trouble, one happy; Globex: two happy ones.
        for _ in range(3):
            unhappy(client, "wile", "Acme & Sons")
        happy(client, "road", "Acme & Sons")
        happy(client, "hank", "Globex")
        happy(client, "homer", "Globex")
        happy(client, "solo", None)  # no company: in no account
        happy(client, "mallory", "Globex", signed=False)  # unsigned: a hint, joins nothing
        recompute(bot.db, bot.settings, now=bot.clock())

        listed = client.get("/api/cme/accounts", headers=cme)
        assert listed.status_code == 200, listed.text
        accounts = listed.json()["accounts"]
        assert [a["company"] for a in accounts] == ["Acme & Sons", "Globex"]  # at risk first
        acme, globex = accounts
        assert (acme["members"], acme["scored"], acme["at_risk"]) == (2, 2, 1)
        assert (globex["members"], globex["at_risk"]) == (2, 0)
        assert acme["score"] < globex["score"] and acme["tier"] and acme["computed_at"]

        at_risk = client.get("/api/cme/accounts", params={"at_risk": "true"}, headers=cme)
        assert [a["company"] for a in at_risk.json()["accounts"]] == ["Acme & Sons"]

        one = client.get("/api/cme/account", params={"company": "Acme & Sons"}, headers=cme)
        assert one.status_code == 200, one.text
        detail = one.json()
        assert detail["account"] == acme
        members = [m["external_id"] for m in detail["members"]]
        assert members == ["wile", "road"]  # lowest health first
        assert detail["members"][0]["health_tier"] == "at_risk"
        scores = [m["health_score"] for m in detail["members"]]
        assert detail["health"]["score"] == round(sum(scores) / 2, 1)
        why = {c["name"]: c for c in detail["health"]["why"]}
        assert why["escalations"]["contribution"] < 0
        assert why["escalations"]["detail"].endswith("of 2 customers")
        assert detail["health"]["trend"] and detail["health"]["population"] is not None
        parts = detail["health"]["population"] + sum(c["contribution"] for c in why.values())
        assert abs(parts - detail["health"]["score"]) < 0.2

        # The customer page links its account.
        record = detail["members"][0]["id"]
        page = client.get(f"/api/cme/customers/{record}", headers=cme).json()
        assert page["account"]["company"] == "Acme & Sons"


def test_account_requests_that_name_nothing_get_clear_4xx(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, identity_secret=SECRET)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        with bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        cme = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/cme/accounts").status_code == 401
        assert client.get("/api/cme/accounts", headers=cme).json() == {"accounts": []}
        missing = client.get("/api/cme/account", params={"company": "Nobody Inc"}, headers=cme)
        assert missing.status_code == 404 and "Nobody Inc" in missing.json()["detail"]
        for bad in ("", "a\x00b", "x" * 201):
            answer = client.get("/api/cme/account", params={"company": bad}, headers=cme)
            assert answer.status_code == 422, (bad, answer.text)
        assert client.get("/api/cme/account", headers=cme).status_code == 422
        paged = client.get("/api/cme/accounts", params={"limit": 0}, headers=cme)
        assert paged.status_code == 422
