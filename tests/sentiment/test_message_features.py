"""One message on its own: sentiment label, small talk, requests for a person, bot failures."""

from __future__ import annotations

import pytest

from sentiment import (
    classify_sentiment,
    detect_acceptance,
    detect_human_request,
    detect_not_helped,
    detect_small_talk,
    looks_like_bot_failure,
)
from sentiment.text import analyze


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("This is the worst airline ever, my flight got cancelled again", "negative"),
        ("Still waiting for my refund after three weeks", "negative"),
        ("@united no one answers the phone, 2 hours on hold", "negative"),
        ("I am not happy with this service", "negative"),
        ("#worstserviceever", "negative"),
        ("Thank you so much, the crew was amazing!", "positive"),
        ("Love the new seats, great job", "positive"),
        ("What time does the flight to Boston leave?", "neutral"),
        ("Can I change my seat?", "neutral"),
    ],
)
def test_classify_sentiment_labels_clear_cases(text: str, label: str) -> None:
    got, sentiment = classify_sentiment(text)
    assert got == label
    assert -1.0 <= sentiment <= 1.0


def test_complaint_cues_turn_a_flat_message_negative() -> None:
    features = analyze("Why did I have to stand at baggage claim for an hour? Still no bag.")
    assert features.complaint > 0.5
    assert features.sentiment < 0
    assert any("still no" in cue for cue in features.complaint_cues)


def test_negation_flips_praise() -> None:
    assert (
        classify_sentiment("the service was good")[1]
        > classify_sentiment("the service was not good")[1]
    )
    assert classify_sentiment("the service was not good")[0] == "negative"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hi", "greeting"),
        ("Hello there!", "greeting"),
        ("good morning :)", "greeting"),
        ("thanks", "thanks"),
        ("Thank you so much for your help!", "thanks"),
        ("gracias", "thanks"),
        ("ok thanks, bye", "goodbye"),
        ("Goodbye.", "goodbye"),
        ("Where is my refund?", None),
        ("Hi, my card was declined", None),
        ("thanks for nothing, this is useless", None),
        ("hey, how are you?", "chitchat"),
        ("that fixed it, thanks!", "thanks"),
        ("it works now but the export fails", None),
        ("who are you?", "chitchat"),
        ("how are you handling VAT on invoices?", None),
        ("", None),
    ],
)
def test_detect_small_talk(text: str, kind: str | None) -> None:
    assert detect_small_talk(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "talk to a person",
        "Can I speak to someone, please?",
        "agent please",
        "HUMAN",
        "I want to speak with a real human being",
        "let me talk to your manager",
        "transfer me to customer service",
        "quiero hablar con un agente",
        "¿Puedo hablar con una persona?",
        "je veux parler à un conseiller",
        "Je voudrais parler avec quelqu'un",
        "ich möchte mit einem Mitarbeiter sprechen",
        "Kann ich mit einem Menschen reden?",
        "转人工",
        "我要人工客服",
        # indirect: asking to be phoned, or contacted by the team
        "can someone call me?",
        "please call me back tomorrow",
        "Could your team email me about this?",
        "can someone get back to me",
        "I'd like a callback",
        "have someone contact me please",
        "¿Me pueden llamar para hablar de mi factura?",
        "que alguien me contacte, por favor",
        "llámenme por favor",
        "Pouvez-vous me rappeler ?",
        "quelqu'un peut me contacter ?",
        "Bitte rufen Sie mich zurück",
        "Kann mich jemand aus der Werkstatt anrufen?",
        "请给我打电话",
        "请尽快联系我",
    ],
)
def test_detect_human_request_in_five_languages(text: str) -> None:
    assert detect_human_request(text)


@pytest.mark.parametrize(
    "text",
    [
        "is a person able to edit invoices?",
        "I need a person who can sign for the delivery",
        "my travel agent booked this flight",
        "the agent at the gate was rude",
        "how many people can join my plan?",
        "does someone need to be home for the delivery?",
        "I want a refund",
        "¿Cuántas personas caben en la habitación?",
        "Une personne peut-elle modifier la facture ?",
        "Kann eine Person die Rechnung ändern?",
        "人工智能是什么",
        "Can you email me a copy of my invoice?",
        "how do I call the API from Python?",
        "you can call me Sam",
        "the webhook callback URL returns 500",
        "how do I change the email address on my account?",
        "¿Puedo llamar a la API desde Python?",
        "Kann jemand die Rechnung ändern?",
    ],
)
def test_questions_about_people_are_not_human_requests(text: str) -> None:
    assert not detect_human_request(text)


@pytest.mark.parametrize(
    ("text", "failed"),
    [
        ("I'm sorry, I don't have that information.", True),
        ("I couldn't find anything about that.", True),
        ("Could you rephrase your question?", True),
        ("Sorry, I didn't understand that.", True),
        ("I'm not sure what you mean.", True),
        ("Your booking is confirmed, reference ABC123.", False),
        ("The address is 12 Main Street. Anything else?", False),
        ("You can reset your password from the account page.", False),
    ],
)
def test_looks_like_bot_failure(text: str, failed: bool) -> None:
    assert looks_like_bot_failure(text) is failed


@pytest.mark.parametrize(
    "text",
    [
        "my flight is delayed, can I rebook?",
        "my payment failed",
        "the export is broken",
        "something is missing from my order",
        "the app keeps crashing on my android phone",
    ],
)
def test_problem_words_are_situation_not_emotion(text: str) -> None:
    features = analyze(text)
    assert features.label == "negative"  # the sentiment label still reads the problem
    assert features.situation > 0 and features.situation_cues
    assert features.complaint == 0
    assert features.emotion > -0.1  # but the customer is not upset


@pytest.mark.parametrize(
    ("text", "angry"),
    [
        ("you people are useless", True),
        ("this is a waste of my time", True),
        ("worst support ever", True),
        ("my flight was delayed again", True),
        ("the sync failed for the third time", True),
        ("I'm furious", True),
        ("my flight was delayed", False),
        ("can I buy it again on my tablet? I have 9 hours left", False),
        ("is this site a scam or legit?", False),
    ],
)
def test_service_anger_cues(text: str, angry: bool) -> None:
    assert (analyze(text).service_anger >= 0.5) is angry


@pytest.mark.parametrize(
    ("text", "sarcastic"),
    [
        ("great, another delay. thanks a lot", True),
        ("oh wonderful, my order is delayed again", True),
        ("thanks for nothing", True),
        ("love how my app crashes every morning", True),
        ("great, thanks!", False),
        ("Got my refund, thanks a lot!", False),
        ("perfect, now it works", False),
        ("I love the new dashboard", False),
    ],
)
def test_sarcasm_needs_praise_around_a_problem(text: str, sarcastic: bool) -> None:
    assert (analyze(text).sarcasm > 0) is sarcastic


@pytest.mark.parametrize(
    ("text", "not_helped"),
    [
        ("that didn't help", True),
        ("tried that, it still won't charge", True),
        ("still not working", True),
        ("no me ayudó", True),
        ("hat nicht geholfen", True),
        ("还是不行", True),
        ("thanks, that fixed it", False),
        ("how do I download my invoices?", False),
    ],
)
def test_detect_not_helped(text: str, not_helped: bool) -> None:
    assert detect_not_helped(text) is not_helped


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ("yes please", True),
        ("Yes.", True),
        ("sí", True),
        ("ja bitte", True),
        ("好的", True),
        ("yes, how do I export?", False),
        ("no thanks", False),
    ],
)
def test_detect_acceptance(text: str, accepted: bool) -> None:
    assert detect_acceptance(text) is accepted
