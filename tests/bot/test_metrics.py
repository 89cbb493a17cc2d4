"""/metrics: Prometheus text behind METRICS_TOKEN, counting what really happened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from bot.storage import Escalation
from tests.utils import make_client, make_settings, say, start_conversation

TOKEN = "metrics-token-of-at-least-32-characters"


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, metrics_token=TOKEN)
    with make_client(settings, fake_embedder) as client:
        yield client


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_count_turns_escalations_queue_and_breaches(client):
    answered, headers = start_conversation(client)
    say(client, answered, headers, "How do I download my invoices as PDF?")
    say(client, answered, headers, "hello")
    waiting, headers = start_conversation(client)
    say(client, waiting, headers, "How do I export my data?")
    assert client.post(f"/api/conversations/{waiting}/handoff", headers=headers).status_code == 200
    say(client, waiting, headers, "are you there?")  # a person owns it now: no bot reply

    samples = scrape(client)
    assert samples[("supportbot_turns_total", (("channel", "web"), ("outcome", "answer")))] == 2
    assert samples[("supportbot_turns_total", (("channel", "web"), ("outcome", "small_talk")))] == 1
    assert samples[("supportbot_turns_total", (("channel", "web"), ("outcome", "waiting")))] == 1
    assert samples[("supportbot_turn_latency_seconds_count", (("channel", "web"),))] == 4
    assert samples[("supportbot_escalations_total", (("reason", "human_request"),))] == 1
    assert samples[("supportbot_queue_length", ())] == 1
    assert samples[("supportbot_sla_breaches", ())] == 0
    assert samples[("supportbot_slack_outbox_backlog", ())] == 0
    assert samples[("supportbot_kb_articles", ())] == 4
    assert samples[("supportbot_kb_index_age_seconds", ())] >= 0
    assert samples[("supportbot_embedding_batch_size_count", ())] >= 4

    bot = client.app.state.bot
    with bot.db.write() as session:
        session.execute(update(Escalation).values(created_at=bot.clock() - timedelta(hours=1)))
    assert scrape(client)[("supportbot_sla_breaches", ())] == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 401), ({"Authorization": TOKEN}, 401)],
)
def test_metrics_need_the_token(client, headers, status):
    assert client.get("/metrics", headers=headers).status_code == status


def test_metrics_are_off_without_a_token(tmp_path, fake_embedder):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'off.db'}")
    with make_client(settings, fake_embedder) as client:
        response = client.get("/metrics")
    assert response.status_code == 404
    assert "METRICS_TOKEN" in response.text


def test_a_short_metrics_token_is_refused(tmp_path):
    with pytest.raises(ValueError, match="METRICS_TOKEN"):
        make_settings(tmp_path, "sqlite://", metrics_token="short")
