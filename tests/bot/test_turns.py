"""Turn-level guarantees: nothing accepted is lost, retries complete, restarts keep history."""

from __future__ import annotations

import numpy as np
import pytest

from embedding import FakeEmbedder
from tests.utils import make_client, make_settings, say, start_conversation


class FlakyEmbedder(FakeEmbedder):
    """Fails on demand after start-up, like a model step that crashes mid-turn."""

    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    def encode(self, texts):
        if self.fail:
            raise RuntimeError("simulated model failure")
        return super().encode(texts)


def test_model_failure_keeps_message_and_retry_completes_turn(tmp_path, database_url):
    embedder = FlakyEmbedder()
    with make_client(make_settings(tmp_path, database_url), embedder) as client:
        conversation_id, headers = start_conversation(client)
        embedder.fail = True
        failed = say(
            client, conversation_id, headers, "How do I export my data?", client_msg_id="c1"
        )
        assert failed.status_code == 500
        assert failed.json()["error_id"]
        stored = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers)
        assert [m["text"] for m in stored.json()["messages"]] == ["How do I export my data?"]

        embedder.fail = False
        retried = say(
            client, conversation_id, headers, "How do I export my data?", client_msg_id="c1"
        )
        assert retried.status_code == 200
        assert retried.json()["reply"]["citations"][0]["article_id"] == "data/export"
        listing = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers)
        assert [m["role"] for m in listing.json()["messages"]] == ["customer", "bot"]


def test_restart_keeps_conversation_and_messages_in_order(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url)
    with make_client(settings, FakeEmbedder()) as client:
        conversation_id, headers = start_conversation(client)
        for question in ("How do I export my data?", "Where are my invoices?", "thanks"):
            assert say(client, conversation_id, headers, question).status_code == 200
        before = client.get(
            f"/api/conversations/{conversation_id}/messages", headers=headers
        ).json()
    with make_client(settings, FakeEmbedder()) as client:
        after = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers).json()
    assert after == before
    assert [m["seq"] for m in after["messages"]] == list(range(1, 7))


def test_embedding_is_computed_once_per_turn(tmp_path, database_url):
    embedder = FakeEmbedder()
    with make_client(make_settings(tmp_path, database_url), embedder) as client:
        conversation_id, headers = start_conversation(client)
        embedder.calls.clear()
        assert (
            say(client, conversation_id, headers, "Where can I download invoices?").status_code
            == 200
        )
    assert embedder.calls == [1]


@pytest.mark.real_model
def test_readme_curl_session_with_real_model(tmp_path, real_embedder):
    """The README's quick-start questions against the demo kb_docs, with the bundled model."""
    from tests.utils import REPO

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'e2e.db'}", kb_dir=REPO / "kb_docs")
    with make_client(settings, real_embedder) as client:
        conversation_id, headers = start_conversation(client, name="Sam")
        turn = say(client, conversation_id, headers, "How do I reset my password?").json()
        assert turn["reply"]["citations"][0]["article_id"] == "account/reset-password"
        assert "Source:" in turn["reply"]["text"]
        page = client.get(
            turn["reply"]["citations"][0]["url"].removeprefix("http://127.0.0.1:8000")
        )
        assert page.status_code == 200
        off_topic = say(
            client, conversation_id, headers, "What's the weather on Mars tomorrow?"
        ).json()
        assert off_topic["reply"]["citations"] == []


def test_stored_embedding_round_trips(tmp_path, database_url):
    from bot.storage import Database
    from bot.storage.store import decode_embedding

    embedder = FakeEmbedder()
    settings = make_settings(tmp_path, database_url)
    with make_client(settings, embedder) as client:
        conversation_id, headers = start_conversation(client)
        say(client, conversation_id, headers, "Where are my invoices?")
    database = Database(settings.database_url)
    from bot.storage import Message

    with database.read() as session:
        message = session.query(Message).filter_by(conversation_id=conversation_id, seq=1).one()
        vector = decode_embedding(message.embedding)
    database.dispose()
    assert np.allclose(vector, embedder.encode(["Where are my invoices?"])[0])


@pytest.mark.real_model
def test_turns_retrieve_with_the_kb_adapted_model_once_it_is_ready(tmp_path, real_embedder):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'adapted.db'}", kb_adapt=True)
    with make_client(settings, real_embedder) as client:
        bot = client.app.state.bot
        assert bot.maintainer.wait_for_adaptation(600)
        adapted = bot.kb.query_embedder
        assert bot.maintainer.adapted_model is not None and adapted is not real_embedder
        conversation_id, headers = start_conversation(client)
        before = list(bot.embedder.batch_sizes)
        turn = say(client, conversation_id, headers, "where do I find my invoice PDFs?").json()
        assert turn["reply"]["citations"][0]["article_id"] == "billing/invoices"
        # One pass of the shared model for scoring, one of the adapted model for retrieval,
        # both through the batcher.
        assert list(bot.embedder.batch_sizes)[len(before) :] == [1, 1]


@pytest.mark.real_model
def test_a_follow_up_gets_the_part_of_the_article_it_asks_about(tmp_path, real_embedder):
    """ "and can I get them by email?" ranks the invoices article first again; the answer is
    its section on emailed receipts, not the download steps repeated word for word."""
    from tests.utils import REPO

    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'follow.db'}", kb_dir=REPO / "kb_docs"
    )
    with make_client(settings, real_embedder) as client:
        conversation_id, headers = start_conversation(client)
        first = say(client, conversation_id, headers, "where do I download my invoices?").json()
        follow = say(client, conversation_id, headers, "and can I get them by email?").json()
    cited = [turn["reply"]["citations"][0] for turn in (first, follow)]
    assert [c["article_id"] for c in cited] == ["billing/invoices-and-receipts"] * 2
    assert "Download PDF" in first["reply"]["text"]
    assert cited[1]["url"].endswith("#receive-receipts-by-email")
    assert "Download PDF" not in follow["reply"]["text"]
