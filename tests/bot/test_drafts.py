"""Knowledge drafts (issue 16): a resolved conversation where a CME answered becomes a redacted
markdown draft under the KB folder (never served), an editor edits and publishes it, and the
bot then answers from it. File names are safe whatever the title."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cme import drafts
from bot.storage import NotFound, utcnow
from tests.utils import make_client, make_cmes, make_settings, say, start_conversation

QUESTION = "How do I change the shipping address of a parcel that already left the warehouse?"
ANSWER = (
    "Write to couriers@example.com with the tracking code, or call +1 (555) 010-4477. "
    "We refunded card 4111 1111 1111 1111 for order #A-778812 meanwhile. "
    "The courier reroutes a parcel within one working day."
)


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("How do I reset my password?", "how-do-i-reset-my-password"),
        ("../../etc/passwd", "etc-passwd"),
        ("..\\..\\windows\\system32", "windows-system32"),
        ("CON", "article-con"),
        ("nul.txt", "article-nul-txt"),
        ("¿¡!!", "article"),
        ("", "article"),
    ],
)
def test_titles_become_safe_file_names(tmp_path: Path, title: str, slug: str) -> None:
    assert drafts.slugify(title) == slug
    path = drafts.draft_path(tmp_path, drafts.slugify(title))
    assert path.parent == (tmp_path / drafts.FOLDER).resolve()


@pytest.mark.parametrize("draft_id", ["../secret", "a/b", "..", "con", "A", "x" * 81, ""])
def test_a_draft_id_cannot_point_outside_the_folder(tmp_path: Path, draft_id: str) -> None:
    with pytest.raises(NotFound):
        drafts.draft_path(tmp_path, draft_id)


def resolved_case(client, cme: dict[str, str]) -> str:
    conversation_id, headers = start_conversation(client, id="cust-9", name="Ada")
    say(client, conversation_id, headers, "hi")
    say(client, conversation_id, headers, QUESTION)
    client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
    url = f"/api/cme/conversations/{conversation_id}"
    assert client.post(f"{url}/claim", headers=cme).status_code == 200
    client.post(f"{url}/messages", json={"text": "internal: ask ops", "note": True}, headers=cme)
    assert client.post(f"{url}/messages", json={"text": ANSWER}, headers=cme).status_code == 200
    assert client.post(f"{url}/resolve", headers=cme).status_code == 200
    return conversation_id


def test_a_resolved_case_becomes_a_draft_that_is_edited_and_published(
    tmp_path, database_url, fake_embedder
) -> None:
    settings = make_settings(tmp_path, database_url, topics_enabled=False)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        with bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        cme = {"Authorization": f"Bearer {token}"}
        conversation_id, headers = start_conversation(client)
        unresolved = client.post(f"/api/cme/conversations/{conversation_id}/draft", headers=cme)
        assert unresolved.status_code == 409

        conversation_id = resolved_case(client, cme)
        response = client.post(f"/api/cme/conversations/{conversation_id}/draft", headers=cme)
        assert response.status_code == 201, response.text
        draft = response.json()
        assert draft["title"] == QUESTION
        assert draft["draft"] is True
        assert "[email]" in draft["body"] and "couriers@example.com" not in draft["body"]
        assert "[phone]" in draft["body"] and "[card number]" in draft["body"]
        assert "[order number]" in draft["body"] and "778812" not in draft["body"]
        assert "internal" not in draft["body"]  # notes are not replies
        path = settings.kb_dir / drafts.FOLDER / f"{draft['id']}.md"
        meta = yaml.safe_load(path.read_text().split("---")[1])
        assert meta["draft"] is True and meta["source_conversation"] == conversation_id
        # A draft changes nothing served: the watcher does not reload (so no recalibration or
        # retraining), and a reload would not serve it.
        assert not bot.maintainer.affects_served(path)
        assert not bot.maintainer.affects_served(path.with_suffix(".md.tmp"))
        assert bot.maintainer.affects_served(settings.kb_dir / "billing" / "refunds.md")
        bot.maintainer.reload()
        assert bot.kb.article(f"{drafts.FOLDER}/{draft['id']}") is None

        edit = {"title": QUESTION, "questions": ["Can I reroute my parcel?"], "body": ANSWER}
        edited = client.put(f"/api/cme/drafts/{draft['id']}", json=edit, headers=cme)
        assert edited.status_code == 200
        assert edited.json()["questions"] == ["Can I reroute my parcel?"]
        assert client.get("/api/cme/drafts", headers=cme).json()["drafts"][0]["id"] == draft["id"]

        published = client.post(f"/api/cme/drafts/{draft['id']}/publish", headers=cme).json()
        assert published["draft"] is False and published["published_at"]
        assert bot.maintainer.affects_served(path)  # published: the watcher reloads
        bot.maintainer.reload()
        article = bot.kb.article(f"{drafts.FOLDER}/{draft['id']}")
        assert article is not None and article.questions == ("Can I reroute my parcel?",)
        again = client.post(f"/api/cme/drafts/{draft['id']}/publish", headers=cme)
        assert again.status_code == 409
        assert client.post(f"/api/cme/drafts/{draft['id']}/discard", headers=cme).status_code == 409
        detail = client.get(f"/api/cme/drafts/{draft['id']}", headers=cme).json()
        assert "effect" in detail

        assert client.get("/api/cme/drafts/..%2Fsecret", headers=cme).status_code in (404, 422)
        too_long = {"title": "x" * 201, "body": "b"}
        assert client.put("/api/cme/drafts/x", json=too_long, headers=cme).status_code == 422


def test_a_discarded_draft_is_gone(tmp_path, database_url, fake_embedder) -> None:
    settings = make_settings(tmp_path, database_url, topics_enabled=False)
    with make_client(settings, fake_embedder) as client:
        with client.app.state.bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        cme = {"Authorization": f"Bearer {token}"}
        conversation_id = resolved_case(client, cme)
        draft = client.post(f"/api/cme/conversations/{conversation_id}/draft", headers=cme).json()
        assert client.post(f"/api/cme/drafts/{draft['id']}/discard", headers=cme).status_code == 200
        assert not (settings.kb_dir / drafts.FOLDER / f"{draft['id']}.md").exists()
        assert client.get(f"/api/cme/drafts/{draft['id']}", headers=cme).status_code == 404


def test_drafts_edited_by_hand_in_git_are_listed_and_never_break_the_list(
    tmp_path, fake_embedder
) -> None:
    folder = tmp_path / drafts.FOLDER
    folder.mkdir()
    (folder / "dated-by-hand.md").write_text(
        "---\ntitle: Dated by hand\ndraft: false\ntopic_id: 3\npublished: 2026-11-01\n---\nBody\n"
    )
    (folder / "broken-front-matter.md").write_text("---\ntitle: [unclosed\n---\nStill a body\n")
    (folder / "Not A Draft Id.md").write_text("---\ntitle: Named in git\n---\nBody\n")
    listed = {draft.id: draft for draft in drafts.list_drafts(tmp_path)}
    assert set(listed) == {"dated-by-hand", "broken-front-matter"}
    assert listed["broken-front-matter"].body == "Still a body"
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", topics_enabled=False)
    with make_client(settings, fake_embedder) as client:
        with client.app.state.bot.db.read() as session:
            effect = drafts.publication_effect(session, listed["dated-by-hand"], now=utcnow())
    assert effect is not None and effect["before"]["questions"] == 0
