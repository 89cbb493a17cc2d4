"""Every encode of a running server goes through the batcher, and a turn encodes as little as
it can: once per model it uses, and a folded follow-up instead of the bare one."""

from __future__ import annotations

import pytest

from embedding import BatchingEmbedder, SentenceTransformerEmbedder
from tests.utils import make_client, make_cmes, make_settings, say, start_conversation

QUESTION = "where do I find my invoice PDFs?"
FOLLOW_UP = "and can that be emailed?"


@pytest.mark.real_model
def test_every_encode_goes_through_the_batcher_and_a_turn_encodes_once_per_model(
    tmp_path, real_embedder, monkeypatch
):
    batchers: list[BatchingEmbedder] = []
    calls: list[tuple[str, list[str], bool]] = []  # (model id, texts, inside a batcher)
    make_batcher, encode = BatchingEmbedder.__init__, SentenceTransformerEmbedder.encode

    def registering(self, *args, **kwargs):
        make_batcher(self, *args, **kwargs)
        batchers.append(self)

    def counting(self, texts):
        inside = any(batcher.encoding() for batcher in batchers)
        calls.append((self.model_id, list(texts), inside))
        return encode(self, texts)

    monkeypatch.setattr(BatchingEmbedder, "__init__", registering)
    monkeypatch.setattr(SentenceTransformerEmbedder, "encode", counting)

    base = real_embedder.model_id
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'encodes.db'}")
    with make_client(settings, real_embedder) as client:
        bot = client.app.state.bot
        assert calls, "start-up embeds the scorer's prototypes, a warm-up and the KB"

        def turn(conversation_id, headers, text):
            before = len(calls)
            assert say(client, conversation_id, headers, text).status_code == 200
            return [(model, texts) for model, texts, _ in calls[before:]]

        # Scoring and retrieval use the same model: one encode, shared.
        conversation_id, headers = start_conversation(client)
        assert turn(conversation_id, headers, QUESTION) == [(base, [QUESTION])]
        # A short follow-up is searched folded into its question: one more encode for that.
        assert turn(conversation_id, headers, FOLLOW_UP) == [
            (base, [FOLLOW_UP]),
            (base, [f"{QUESTION} {FOLLOW_UP}"]),
        ]

        # Retrieval switches to another model (as it does once the KB-adapted one is ready).
        other = SentenceTransformerEmbedder(
            real_embedder.location, device=real_embedder.device, model_id=f"{base}-other"
        )
        bot.kb.use_model(other)
        bot.maintainer.reload()
        assert bot.kb.query_embedder is other
        conversation_id, headers = start_conversation(client)
        assert turn(conversation_id, headers, QUESTION) == [
            (base, [QUESTION]),
            (other.model_id, [QUESTION]),
        ]
        assert turn(conversation_id, headers, FOLLOW_UP) == [
            (base, [FOLLOW_UP]),
            (other.model_id, [f"{QUESTION} {FOLLOW_UP}"]),
        ]

        # A CME's article suggestions embed the conversation (its main question and the latest
        # turns) once, with the serving model.
        with bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        before = len(calls)
        suggested = client.get(
            f"/api/cme/conversations/{conversation_id}/suggestions",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert suggested.status_code == 200 and suggested.json()["articles"]
        assert [(model, texts) for model, texts, _ in calls[before:]] == [
            (other.model_id, [f"{QUESTION}\n{FOLLOW_UP}"])
        ]

    outside = [(model, texts[:2]) for model, texts, inside in calls if not inside]
    assert outside == [], "encodes that bypassed the batcher"
