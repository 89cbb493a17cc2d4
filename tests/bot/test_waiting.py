"""The wait a customer is told, the address they leave, and the widget's words and language."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.channels.web.labels import LABELS, pick_language
from bot.conversation.replies import small_talk_text
from tests.utils import make_client, make_settings, start_conversation


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, sla_first_response_s=60)
    with make_client(settings, fake_embedder) as client:
        yield client


def waiting(client) -> tuple[str, dict[str, str]]:
    conversation_id, headers = start_conversation(client)
    response = client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
    assert response.json()["status"] == "waiting"
    return conversation_id, headers


def test_the_wait_follows_the_queue_and_the_clock(client):
    first, _ = waiting(client)
    second, headers = waiting(client)
    path = f"/api/conversations/{second}/wait"
    wait = client.get(path, headers=headers).json()
    assert (wait["status"], wait["position"], wait["sla_passed"], wait["ask_email"]) == (
        "waiting",
        2,
        False,
        False,
    )
    assert wait["team_on_duty"] is True and wait["opens_at"] is None
    bot = client.app.state.bot
    start = bot.clock()
    bot.clock = lambda: start + timedelta(seconds=61)
    wait = client.get(path, headers=headers).json()
    assert wait["sla_passed"] is True and wait["ask_email"] is True and wait["waited_s"] >= 61
    email = client.post(
        f"/api/conversations/{second}/email", json={"email": "sam@example.com"}, headers=headers
    )
    assert email.json() == {"email": "sam@example.com"}
    assert client.get(path, headers=headers).json()["ask_email"] is False
    assert client.get(f"/api/conversations/{first}/wait", headers=headers).status_code == 403


@pytest.mark.parametrize("body", [{"email": "not an email"}, {"email": ""}, {}, {"e": "x@y.z"}])
def test_a_bad_email_is_refused_with_422(client, body):
    conversation_id, headers = waiting(client)
    response = client.post(
        f"/api/conversations/{conversation_id}/email", json=body, headers=headers
    )
    assert response.status_code == 422


def test_a_conversation_with_the_bot_is_not_waiting(client):
    conversation_id, headers = start_conversation(client)
    wait = client.get(f"/api/conversations/{conversation_id}/wait", headers=headers).json()
    assert (wait["status"], wait["position"], wait["ask_email"]) == ("bot", None, False)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("pt-BR,pt;q=0.9,es;q=0.8,en;q=0.7", "es"),
        ("en;q=0.5,fr;q=0.9", "fr"),
        ("zh-CN", "zh"),
        ("ja", "en"),
        ("", "en"),
        (None, "en"),
        ("*;q=oops,,;;", "en"),
    ],
)
def test_the_widget_speaks_the_first_language_the_browser_prefers(header, language):
    assert pick_language(header) == language


def test_every_language_has_every_label_and_the_same_placeholders():
    for language, labels in LABELS.items():
        assert labels.keys() == LABELS["en"].keys(), language
        for key, text in labels.items():
            names = {part.split("}")[0] for part in text.split("{")[1:]}
            english = {part.split("}")[0] for part in LABELS["en"][key].split("{")[1:]}
            assert names == english, (language, key)


@pytest.mark.parametrize(
    ("kind", "channel", "text"),
    [
        ("greeting", "web", "Hi! What can I help you with?"),
        ("greeting", "slack", "Hi! I'm Tallyo's assistant. What can I help you with?"),
        (
            "chitchat",
            "web",
            "I'm Tallyo's assistant, doing well, thanks! What can I help you with today?",
        ),
    ],
)
def test_the_bot_introduces_itself_once_under_its_one_name(kind, channel, text):
    assert small_talk_text(kind, bot_name="Tallyo's assistant", channel=channel) == text


def test_the_widget_script_carries_the_settings_and_one_language(client):
    script = client.get("/widget.js", headers={"Accept-Language": "fr-FR"})
    assert script.headers["vary"] == "Accept-Language"
    assert "Parler \\u00e0 une personne" in script.text  # JSON, ASCII-escaped
    assert "Mit einer Person" not in script.text
    assert '"botName": "Support assistant"' in script.text


def test_outside_office_hours_the_email_is_asked_for_at_once(tmp_path, database_url, fake_embedder):
    from datetime import UTC, datetime

    settings = make_settings(
        tmp_path, database_url, office_hours="mon-fri 09:00-17:00", office_timezone="UTC"
    )
    with make_client(settings, fake_embedder) as client:
        saturday = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
        client.app.state.bot.clock = lambda: saturday
        conversation_id, headers = waiting(client)
        wait = client.get(f"/api/conversations/{conversation_id}/wait", headers=headers).json()
        assert wait["team_on_duty"] is False and wait["sla_passed"] is False
        assert wait["ask_email"] is True
        assert wait["opens_at"].startswith("2026-12-07T09:00")
