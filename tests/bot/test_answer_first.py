"""Answer first, then offer a person; off-topic declines do not count as failures."""

from __future__ import annotations

import dataclasses

import pytest

from bot.conversation import replies
from embedding import FakeEmbedder
from tests.utils import make_client, make_settings, say, start_conversation

OFF_TOPIC_WORDS = ("weather", "football")
UNANSWERABLE_WORDS = ("lisbon", "coffee", *OFF_TOPIC_WORDS)
UPSET_WORDS = ("frustrated",)


@pytest.fixture
def client(tmp_path, database_url):
    with make_client(make_settings(tmp_path, database_url), FakeEmbedder()) as client:
        bot = client.app.state.bot
        search, score = bot.kb.search, bot.scorer.score

        def staged_search(query, *args, **kwargs):
            # The fake model cannot tell topics apart; these words stand in for what the real
            # gate and scope detector would decide.
            result = search(query, *args, **kwargs)
            text = query.text.lower()
            if any(word in text for word in UNANSWERABLE_WORDS):
                result = dataclasses.replace(result, answerable=False)
            if any(word in text for word in OFF_TOPIC_WORDS):
                result = dataclasses.replace(result, in_scope=False)
            return result

        def staged_score(turn, history):
            scores = score(turn, history)
            if any(word in turn.text.lower() for word in UPSET_WORDS):
                scores = dataclasses.replace(scores, frustration=0.9, anger=0.0)
            return scores

        bot.kb.search = staged_search
        bot.scorer.score = staged_score
        yield client


def turn(client, conversation, text):
    conversation_id, headers = conversation
    response = say(client, conversation_id, headers, text)
    assert response.status_code == 200, response.text
    return response.json()


def test_off_topic_declines_never_escalate(client):
    conversation = start_conversation(client)
    for text in ("what's the weather in Paris?", "who won the football?", "weather tomorrow?"):
        body = turn(client, conversation, text)
        assert body["status"] == "bot"
        assert body["reply"]["text"] == replies.OFF_TOPIC
    assert turn(client, conversation, "How do I export my data?")["reply"]["citations"]


def test_in_scope_declines_count_and_off_topic_ones_do_not_reset_them(client):
    conversation = start_conversation(client)
    assert turn(client, conversation, "Can you book me a flight to Lisbon?")["status"] == "bot"
    assert turn(client, conversation, "what's the weather in Lisbon?")["status"] == "bot"
    assert turn(client, conversation, "Do you sell coffee machines?")["status"] == "waiting"


def test_upset_customer_gets_the_answer_with_the_offer_of_a_person(client):
    conversation = start_conversation(client)
    body = turn(client, conversation, "I'm so frustrated. How do I export my data?")
    assert body["status"] == "bot"
    assert body["reply"]["citations"][0]["article_id"] == "data/export"
    assert body["reply"]["text"].endswith(replies.OFFER_PERSON)
    # Later questions the KB answers are still answered, without the offer.
    body = turn(client, conversation, "Where can I download my invoices?")
    assert body["status"] == "bot"
    assert body["reply"]["citations"][0]["article_id"] == "billing/invoices"
    assert replies.OFFER_PERSON not in body["reply"]["text"]


@pytest.mark.parametrize("follow_up", ["that didn't help, it still fails", "yes please"])
def test_after_the_offer_not_helped_or_yes_escalates(client, follow_up):
    conversation = start_conversation(client)
    assert turn(client, conversation, "I'm frustrated. How do I export my data?")["status"] == "bot"
    assert turn(client, conversation, follow_up)["status"] == "waiting"


def test_yes_without_an_offer_does_not_escalate(client):
    conversation = start_conversation(client)
    assert turn(client, conversation, "How do I export my data?")["status"] == "bot"
    assert turn(client, conversation, "yes please")["status"] == "bot"


def test_still_upset_after_the_offer_escalates(client):
    conversation = start_conversation(client)
    assert turn(client, conversation, "I'm frustrated. How do I export my data?")["status"] == "bot"
    assert turn(client, conversation, "I'm still frustrated with invoices")["status"] == "waiting"
