"""/api/cme/insights through the real app: conversations made through the pipeline, the rollup,
the figures, the drill-down list and its CSV; bad input gets a clear 4xx."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from bot.cme.insights import compute
from bot.cme.insights.service import refresh_insights
from bot.storage import store
from escalation import OfficeHours
from tests.utils import make_client, make_cmes, make_settings, say, start_conversation


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    with make_client(make_settings(tmp_path, database_url), fake_embedder) as client:
        yield client


@pytest.fixture
def cme(client):
    bot = client.app.state.bot
    with bot.db.write() as session:
        ((_, token),) = make_cmes(session, 1)
    return {"Authorization": f"Bearer {token}"}


def test_dashboard_counts_pipeline_conversations_and_drills_down(client, cme):
    thanked, headers = start_conversation(client, id="ada")
    answer = say(client, thanked, headers, "How do I download my invoices as PDF?").json()
    assert answer["reply"]["citations"]
    assert say(client, thanked, headers, "thanks!").json()["reply"]["text"].startswith("You're")

    lost, headers = start_conversation(client, id="bob")
    declined = say(client, lost, headers, "Can I pay with a goat instead of a credit card?").json()
    assert "couldn't find" in declined["reply"]["text"]

    greeting, headers = start_conversation(client, id="cy")
    say(client, greeting, headers, "hello")

    escalated, headers = start_conversation(client, id="dee")
    say(client, escalated, headers, "How do I export my data?")
    assert (
        client.post(f"/api/conversations/{escalated}/handoff", headers=headers).status_code == 200
    )

    bot = client.app.state.bot
    assert refresh_insights(bot) == 4
    body = client.get("/api/cme/insights", headers=cme).json()
    resolution = body["resolution"]
    assert resolution["denominator"] == 3  # the greeting is in no denominator
    assert resolution["confirmed"] == {
        "count": 1,
        "denominator": 3,
        "rate": 0.3333,
        "drill": "confirmed",
    }
    assert resolution["ended_not_found"]["count"] == 1
    assert body["escalations"]["escalated"]["count"] == 1
    assert [r["reason"] for r in body["escalations"]["reasons"]] == ["human_request"]
    assert body["first-response"]["sla_met"]["denominator"] == 0  # pending, in no denominator
    assert body["nps"]["available"] is False and body["nps"]["asked"] == 0
    assert "thumbs-up" in body["definitions"]["confirmed"]
    assert body["volume"]["channels"]["web"]["count"] == 3

    listed = client.get(
        "/api/cme/insights/conversations", params={"drill": "confirmed"}, headers=cme
    ).json()
    assert listed["total"] == 1
    assert [r["conversation_id"] for r in listed["conversations"]] == [thanked]
    lost_list = client.get(
        "/api/cme/insights/conversations", params={"drill": "ended_not_found"}, headers=cme
    ).json()
    assert [r["conversation_id"] for r in lost_list["conversations"]] == [lost]

    exported = client.get(
        "/api/cme/insights/conversations.csv", params={"drill": "counted"}, headers=cme
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["conversation_id"] for r in rows} == {thanked, lost, escalated}
    assert next(r for r in rows if r["conversation_id"] == escalated)["reasons"] == "human_request"

    only = client.get("/api/cme/insights/escalations", headers=cme).json()
    assert only["escalations"]["escalated"]["count"] == 1
    slack = client.get("/api/cme/insights", params={"channel": "slack"}, headers=cme).json()
    assert slack["resolution"]["denominator"] == 0


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/cme/insights", {"start": "2026-11-05", "end": "2026-11-01"}, 422),
        ("/api/cme/insights", {"start": "2020-01-01", "end": "2026-11-01"}, 422),
        ("/api/cme/insights", {"end": "9999-12-31"}, 422),
        ("/api/cme/insights", {"channel": "<b>"}, 422),
        ("/api/cme/insights/nonsense", {}, 422),
        ("/api/cme/insights/conversations", {"drill": "everything"}, 422),
        ("/api/cme/insights/conversations", {"drill": "frustration=extreme"}, 422),
        ("/api/cme/insights/conversations", {"drill": "counted&hour=999"}, 422),
        ("/api/cme/insights/conversations", {"drill": "counted", "limit": 0}, 422),
        ("/api/cme/insights/conversations.csv", {}, 422),
    ],
)
def test_bad_queries_get_422_naming_the_problem(client, cme, path, params, status):
    response = client.get(path, params=params, headers=cme)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_insights_need_a_cme(client):
    assert client.get("/api/cme/insights").status_code == 401
    assert client.get("/api/cme/insights/conversations?drill=counted").status_code == 401
    page = client.get("/console/insights", follow_redirects=False)
    assert page.status_code == 303 and "next=/console/insights" in page.headers["location"]


def test_a_customer_writing_after_goodbye_reopens_and_loses_assumed(client, cme):
    conversation_id, headers = start_conversation(client, id="eve")
    say(client, conversation_id, headers, "How do I export my data?")
    assert say(client, conversation_id, headers, "bye").json()["status"] == "resolved"
    bot = client.app.state.bot
    with bot.db.read() as session:
        assert (
            store.get_conversation(session, conversation_id=conversation_id).reopened_after_s
            is None
        )
    say(client, conversation_id, headers, "the export link does not work")
    with bot.db.read() as session:
        reopened = store.get_conversation(session, conversation_id=conversation_id)
        assert reopened.status == "bot" and 0 <= reopened.reopened_after_s < 60
        (fact,) = compute(
            session,
            [conversation_id],
            now=bot.clock() + timedelta(days=8),
            hours=OfficeHours.parse(""),
            sla_s=300,
            similarity=0.6,
        )
    assert fact.returns == ("reopen",) and not fact.assumed and not fact.durable


def test_dashboard_nps_counts_answers_over_the_questions_shown_in_the_window(client, cme):
    from bot.storage import Conversation, NpsSurvey, utcnow

    ids = []
    for name in ("ann", "ben", "cat", "dan", "eve"):
        conversation_id, headers = start_conversation(client, id=name)
        say(client, conversation_id, headers, "How do I export my data?")
        ids.append(conversation_id)
    bot = client.app.state.bot
    asked = utcnow() - timedelta(days=1)
    with bot.db.write() as session:
        # ann, ben, cat answered; dan was shown it and did not answer; eve never saw it.
        for conversation_id, score, shown in zip(
            ids, (10, 9, 3, None, None), (True, True, True, True, False), strict=True
        ):
            conversation = session.get(Conversation, conversation_id)
            session.add(
                NpsSurvey(
                    customer_id=conversation.customer_ref,
                    conversation_id=conversation_id,
                    channel="web",
                    asked_at=asked,
                    shown_at=asked if shown else None,
                    score=score,
                    answered_at=asked if score is not None else None,
                )
            )
        old = session.get(Conversation, ids[0])
        session.add(  # asked long before the window: in no count
            NpsSurvey(
                customer_id=old.customer_ref,
                channel="web",
                asked_at=utcnow() - timedelta(days=400),
                shown_at=utcnow() - timedelta(days=400),
                score=0,
            )
        )
    nps = client.get("/api/cme/insights", headers=cme).json()["nps"]
    # 2 promoters, 1 detractor of 3 answers; 4 shown and 5 asked in the window.
    assert nps["available"] is True
    assert (nps["promoters"], nps["detractors"], nps["answers"]) == (2, 1, 3)
    assert (nps["shown"], nps["asked"]) == (4, 5)
    assert nps["score"] == 33.3 and nps["response_rate"] == 0.75
    slack = client.get("/api/cme/insights", params={"channel": "slack"}, headers=cme).json()
    assert slack["nps"]["available"] is False and slack["nps"]["asked"] == 0
