"""CSAT on every resolution with a reason for a low rating, and NPS at most once per customer
per SUPPORTBOT_NPS_INTERVAL_DAYS after a resolution (issue 15)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.cme.nps import nps_of, nps_summary
from bot.http.identity import sign_v2
from bot.storage import Csat
from tests.utils import make_client, make_cmes, make_settings, say

SECRET = "identity-secret-of-at-least-32-characters!"


def start_signed(client, customer_id: str) -> tuple[str, dict]:
    expires = int(client.app.state.bot.clock().timestamp()) + 3600  # the server's clock
    signature = sign_v2(SECRET, customer_id=customer_id, expires=expires)
    customer = {"id": customer_id, "expires": expires, "signature": signature}
    created = client.post("/api/conversations", json={"customer": customer}).json()
    return created["id"], {"Authorization": f"Bearer {created['token']}"}


def resolved_conversation(client, customer_id: str) -> tuple[str, dict]:
    conversation_id, headers = start_signed(client, customer_id)
    say(client, conversation_id, headers, "How do I export my data?")
    assert say(client, conversation_id, headers, "thanks, bye").json()["status"] == "resolved"
    return conversation_id, headers


@pytest.mark.parametrize(
    ("scores", "shown", "expected"),
    [
        ([], 0, (None, 0, None)),
        ([10, 9, 8, 7, 6, 0], 12, (0.0, 6, 0.5)),
        ([10, 10, 9, 2], 4, (50.0, 4, 1.0)),
        ([3], 10, (-100.0, 1, 0.1)),
    ],
)
def test_nps_is_promoters_minus_detractors_with_its_denominators(scores, shown, expected):
    summary = nps_of(scores, shown=shown, asked=shown + 5)
    assert (summary.nps, summary.answers, summary.response_rate) == expected
    assert summary.asked == shown + 5  # questions nobody saw change no figure


def test_more_answers_than_questions_shown_is_refused():
    with pytest.raises(ValueError, match="shown"):
        nps_of([9, 10], shown=1)


def test_csat_on_every_resolution_with_a_low_rating_reason(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, identity_secret=SECRET, health_poll_s=0)
    with make_client(settings, fake_embedder) as client:
        conversation_id, headers = resolved_conversation(client, "ada")
        url = f"/api/conversations/{conversation_id}/csat"
        low = {"rating": 2, "reason": "wrong_answer", "comment": "not what I asked"}
        assert client.post(url, json=low, headers=headers).status_code == 200
        assert client.post(url, json={"rating": 5}, headers=headers).status_code == 409
        # The customer writes again (reopens) and is done again: a second rating is welcome.
        say(client, conversation_id, headers, "Where can I download my invoices?")
        assert say(client, conversation_id, headers, "thanks, bye").json()["status"] == "resolved"
        assert client.post(url, json={"rating": 5}, headers=headers).status_code == 200
        bad_reason = client.post(url, json={"rating": 1, "reason": "vibes"}, headers=headers)
        assert bad_reason.status_code == 422
        with client.app.state.bot.db.read() as session:
            rows = session.scalars(select(Csat).order_by(Csat.resolution)).all()
            assert [(r.resolution, r.rating, r.reason) for r in rows] == [
                (1, 2, "wrong_answer"),
                (2, 5, None),
            ]


def test_nps_asked_once_per_interval_and_answered_once(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, identity_secret=SECRET, health_poll_s=0)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        unresolved_id, unresolved = start_signed(client, "ada")
        nps = f"/api/conversations/{unresolved_id}/nps"
        assert client.get(nps, headers=unresolved).json() == {"asked": False, "answered": False}
        assert client.post(nps, json={"score": 9}, headers=unresolved).status_code == 409

        first_id, first = resolved_conversation(client, "ada")
        url = f"/api/conversations/{first_id}/nps"
        assert client.get(url, headers=first).json() == {"asked": True, "answered": False}
        assert client.post(url, json={"score": 11}, headers=first).status_code == 422
        answer = {"score": 9, "comment": "quick and clear"}
        assert client.post(url, json=answer, headers=first).status_code == 200
        assert client.post(url, json={"score": 3}, headers=first).status_code == 409
        assert client.get(url, headers=first).json() == {"asked": True, "answered": True}

        # Within the interval the same customer is not asked again; another customer is.
        second_id, second = resolved_conversation(client, "ada")
        assert (
            client.get(f"/api/conversations/{second_id}/nps", headers=second).json()["asked"]
            is False
        )
        other_id, other = resolved_conversation(client, "bea")
        assert client.get(f"/api/conversations/{other_id}/nps", headers=other).json()["asked"]

        # After the interval, ada is asked again.
        later = bot.clock() + timedelta(days=settings.nps_interval_days + 1)
        bot.clock = lambda: later
        third_id, third = resolved_conversation(client, "ada")
        assert client.get(f"/api/conversations/{third_id}/nps", headers=third).json()["asked"]

        with bot.db.read() as session:
            summary = nps_summary(session)
        assert (summary.asked, summary.answers, summary.nps) == (3, 1, 100.0)
        assert summary.response_rate == pytest.approx(1 / 3, abs=1e-3)

        # The customer page shows the answer.
        with bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        cme = {"Authorization": f"Bearer {token}"}
        record = client.get(f"/api/cme/conversations/{first_id}", headers=cme).json()
        page = client.get(
            f"/api/cme/customers/{record['conversation']['customer']['record_id']}", headers=cme
        ).json()
        answered = [a for a in page["nps"] if a["score"] is not None]
        assert [(a["score"], a["comment"]) for a in answered] == [(9, "quick and clear")]


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # (what the customer does after the idle sweep closed their conversation,
        #  (asked, shown, answers, response rate))
        pytest.param((), (1, 0, 0, None), id="never-came-back-is-no-declined-answer"),
        pytest.param(("look",), (1, 1, 0, 0.0), id="saw-it-and-did-not-answer"),
        pytest.param(("look", "answer"), (1, 1, 1, 1.0), id="saw-it-and-answered"),
        pytest.param(("next",), (1, 1, 0, 0.0), id="unseen-question-moves-to-the-next-resolution"),
        pytest.param(("next", "answer"), (1, 1, 1, 1.0), id="and-is-answered-there"),
    ],
)
def test_nps_response_rate_counts_only_questions_the_customer_saw(
    tmp_path, database_url, fake_embedder, after, expected
):
    """The idle sweep resolves a widget conversation nobody is watching and the NPS question
    is asked; it is in the response rate's denominator only once the customer saw it."""
    from bot.conversation.lifecycle import resolve_idle
    from bot.storage import NpsSurvey

    settings = make_settings(tmp_path, database_url, identity_secret=SECRET, health_poll_s=0)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        idle_id, idle = start_signed(client, "ada")
        say(client, idle_id, idle, "How do I export my data?")
        later = bot.clock() + timedelta(seconds=settings.idle_resolve_after_s + 60)
        bot.clock = lambda: later
        assert resolve_idle(bot) == [idle_id]
        url, headers = f"/api/conversations/{idle_id}/nps", idle
        for step in after:
            if step == "look":  # the widget is opened again and shows the question
                assert client.get(url, headers=headers).json() == {
                    "asked": True,
                    "answered": False,
                }
            elif step == "next":  # back another day, resolved with the widget open
                next_id, headers = resolved_conversation(client, "ada")
                url = f"/api/conversations/{next_id}/nps"
                assert client.get(url, headers=headers).json()["asked"] is True
                old = client.get(f"/api/conversations/{idle_id}/nps", headers=idle).json()
                assert old == {"asked": False, "answered": False}  # it moved
            elif step == "answer":
                assert client.post(url, json={"score": 9}, headers=headers).status_code == 200
        with bot.db.read() as session:
            summary = nps_summary(session)
            surveys = session.scalars(select(NpsSurvey)).all()
        assert len(surveys) == 1  # never a second question for an unseen one
        got = (summary.asked, summary.shown, summary.answers, summary.response_rate)
        assert got == expected
