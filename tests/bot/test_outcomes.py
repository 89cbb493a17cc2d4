"""Learning from outcomes (issue 13, part 2): what customers and CMEs do after the bot's answers
is stored as labelled examples, capped per customer, shown to CMEs with undo, erased with the
customer, and handed to retrieval."""

from __future__ import annotations

from sqlalchemy import select

from bot.conversation.outcomes import load_examples
from bot.storage import OutcomeExample
from retrieval import version_key
from tests.utils import make_client, make_cmes, make_settings, say, start_conversation

QUESTION = "How do I export my data?"


def examples(client) -> list[OutcomeExample]:
    with client.app.state.bot.db.read() as session:
        rows = session.scalars(select(OutcomeExample).order_by(OutcomeExample.id)).all()
        session.expunge_all()
        return list(rows)


def answered(client, customer: str = "cust-1", text: str = QUESTION):
    """A conversation whose question the bot answered; returns (id, headers, reply)."""
    conversation_id, headers = start_conversation(client, id=customer)
    turn = say(client, conversation_id, headers, text).json()
    assert turn["reply"]["citations"], turn  # answered from the KB
    return conversation_id, headers, turn["reply"]


def thumb(client, conversation_id, headers, seq: int, helpful: bool) -> None:
    response = client.post(
        f"/api/conversations/{conversation_id}/feedback",
        json={"seq": seq, "helpful": helpful},
        headers=headers,
    )
    assert response.status_code == 200, response.text


def cme_headers(client) -> dict[str, str]:
    with client.app.state.bot.db.write() as session:
        [(_, token)] = make_cmes(session, 1)
    return {"Authorization": f"Bearer {token}"}


def test_a_thumb_on_an_answer_labels_the_question_with_the_answered_article(
    tmp_path, database_url, fake_embedder
):
    with make_client(make_settings(tmp_path, database_url), fake_embedder) as client:
        conversation_id, headers, reply = answered(client)
        thumb(client, conversation_id, headers, reply["seq"], True)
        [example] = examples(client)
        kb = client.app.state.bot.kb
        assert (example.query, example.article_id, example.source, example.polarity) == (
            QUESTION,
            "data/export",
            "thumbs_up",
            1,
        )
        assert example.article_version == version_key(kb.article("data/export"))
        assert example.customer_id == "cust-1" and example.conversation_id == conversation_id
        thumb(client, conversation_id, headers, reply["seq"], False)  # changed their mind
        [example] = examples(client)
        assert (example.source, example.polarity) == ("thumbs_down", -1)


def test_asking_for_a_person_right_after_an_answer_counts_against_it(
    tmp_path, database_url, fake_embedder
):
    with make_client(make_settings(tmp_path, database_url), fake_embedder) as client:
        conversation_id, headers, _ = answered(client)
        client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
        [example] = examples(client)
        assert (example.article_id, example.source, example.polarity) == (
            "data/export",
            "escalated_after_answer",
            -1,
        )
        assert example.weight < 0.5  # says less than a thumbs down


def test_asking_the_same_question_again_after_an_answer_counts_against_it(
    tmp_path, database_url, fake_embedder
):
    with make_client(make_settings(tmp_path, database_url), fake_embedder) as client:
        conversation_id, headers, _ = answered(client)
        say(client, conversation_id, headers, "Where can I download my invoices?")
        assert examples(client) == []  # a new question is no verdict on the answer
        say(client, conversation_id, headers, "where can i download my invoices??")
        [example] = examples(client)
        assert (example.query, example.article_id, example.source, example.polarity) == (
            "Where can I download my invoices?",
            "billing/invoices",
            "rephrase",
            -1,
        )


def test_a_cme_canned_reply_labels_the_question_and_outranks_the_customer(
    tmp_path, database_url, fake_embedder
):
    with make_client(make_settings(tmp_path, database_url), fake_embedder) as client:
        cme = cme_headers(client)
        conversation_id, headers, reply = answered(client)
        thumb(client, conversation_id, headers, reply["seq"], False)
        client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
        url = f"/api/cme/conversations/{conversation_id}"
        assert client.post(f"{url}/claim", headers=cme).status_code == 200
        missing = client.post(
            f"{url}/messages", json={"text": "See this", "article_id": "nope"}, headers=cme
        )
        assert missing.status_code == 404
        sent = client.post(
            f"{url}/messages",
            json={"text": "Here is how to download them", "article_id": "billing/invoices"},
            headers=cme,
        )
        assert sent.status_code == 200, sent.text
        [example] = examples(client)  # one example per question: the CME's choice wins
        assert (example.article_id, example.source, example.polarity, example.weight) == (
            "billing/invoices",
            "cme_canned_reply",
            1,
            1.0,
        )
        thumb(client, conversation_id, headers, reply["seq"], True)  # a customer cannot undo it
        assert examples(client)[0].source == "cme_canned_reply"


def test_a_cme_reply_without_an_article_to_a_declined_question_labels_it_unanswerable(
    tmp_path, database_url, fake_embedder
):
    with make_client(make_settings(tmp_path, database_url), fake_embedder) as client:
        cme = cme_headers(client)
        conversation_id, headers = start_conversation(client, id="cust-2")
        turn = say(client, conversation_id, headers, "zqx vrrp wuggle flim").json()
        assert not turn["reply"]["citations"]  # declined
        client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
        url = f"/api/cme/conversations/{conversation_id}"
        assert client.post(f"{url}/claim", headers=cme).status_code == 200
        client.post(f"{url}/messages", json={"text": "internal", "note": True}, headers=cme)
        assert examples(client) == []  # a note tells the customer nothing
        client.post(f"{url}/messages", json={"text": "Let me check that."}, headers=cme)
        [example] = examples(client)
        assert (example.query, example.article_id, example.source) == (
            "zqx vrrp wuggle flim",
            None,
            "cme_reply_to_decline",
        )


def test_a_cme_reply_without_an_article_after_an_answer_says_nothing_about_the_kb(
    tmp_path, database_url, fake_embedder
):
    with make_client(make_settings(tmp_path, database_url), fake_embedder) as client:
        cme = cme_headers(client)
        conversation_id, headers, _ = answered(client)
        client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
        url = f"/api/cme/conversations/{conversation_id}"
        assert client.post(f"{url}/claim", headers=cme).status_code == 200
        client.post(f"{url}/messages", json={"text": "Happy to help further."}, headers=cme)
        assert [example.source for example in examples(client)] == ["escalated_after_answer"]


def test_one_customer_can_add_only_a_capped_number_of_examples(
    tmp_path, database_url, fake_embedder
):
    settings = make_settings(tmp_path, database_url, outcome_examples_per_customer=2)
    with make_client(settings, fake_embedder) as client:
        for text in (QUESTION, "Where can I download my invoices?", "How do I reset my password?"):
            conversation_id, headers, reply = answered(client, "cust-spam", text)
            thumb(client, conversation_id, headers, reply["seq"], False)
        assert len(examples(client)) == 2
        conversation_id, headers, reply = answered(client, "cust-other")
        thumb(client, conversation_id, headers, reply["seq"], False)
        assert len(examples(client)) == 3  # other customers are not affected


def test_learning_can_be_switched_off(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, learn_from_outcomes=False)
    with make_client(settings, fake_embedder) as client:
        conversation_id, headers, reply = answered(client)
        thumb(client, conversation_id, headers, reply["seq"], True)
        assert examples(client) == []


def test_cmes_see_counts_and_recent_examples_and_can_undo(tmp_path, database_url, fake_embedder):
    with make_client(make_settings(tmp_path, database_url), fake_embedder) as client:
        cme = cme_headers(client)
        assert client.get("/api/cme/outcomes").status_code == 401
        conversation_id, headers, reply = answered(client)
        thumb(client, conversation_id, headers, reply["seq"], True)
        report = client.get("/api/cme/outcomes", headers=cme).json()
        assert report["total"] == 1 and report["in_use"] == 1
        assert report["by_source"] == {"thumbs_up": 1}
        assert report["by_article"] == [{"article_id": "data/export", "positive": 1, "negative": 0}]
        [recent] = report["recent"]
        assert recent["query"] == QUESTION and recent["in_use"] is True
        assert client.delete(f"/api/cme/outcomes/{recent['id']}", headers=cme).status_code == 200
        assert client.get("/api/cme/outcomes", headers=cme).json()["total"] == 0
        assert client.delete(f"/api/cme/outcomes/{recent['id']}", headers=cme).status_code == 404


def test_retrieval_ranks_with_the_stored_examples_and_forgets_undone_ones(
    tmp_path, database_url, fake_embedder
):
    with make_client(make_settings(tmp_path, database_url), fake_embedder) as client:
        bot = client.app.state.bot
        conversation_id, headers, reply = answered(client)
        thumb(client, conversation_id, headers, reply["seq"], True)
        assert bot.outcomes_changed.is_set()  # the background loader reloads soon
        assert load_examples(bot) == {"used": 1, "dropped": 0}
        assert [example.text for example in bot.kb.examples] == [QUESTION]
        cme = cme_headers(client)
        example_id = examples(client)[0].id
        client.delete(f"/api/cme/outcomes/{example_id}", headers=cme)
        assert load_examples(bot) == {"used": 0, "dropped": 0}


def test_erasing_a_customer_removes_their_examples(tmp_path, database_url, fake_embedder):
    with make_client(make_settings(tmp_path, database_url), fake_embedder) as client:
        cme = cme_headers(client)
        conversation_id, headers, reply = answered(client, "cust-gone")
        thumb(client, conversation_id, headers, reply["seq"], True)
        other_id, other_headers, other_reply = answered(client, "cust-stays")
        thumb(client, other_id, other_headers, other_reply["seq"], True)
        receipt = client.delete("/api/cme/customers?customer_id=cust-gone", headers=cme).json()
        assert receipt["removed"]["outcome_examples"] == 1
        assert [example.customer_id for example in examples(client)] == ["cust-stays"]
