"""Attachments (issue 19): customers and CMEs send files; the type is sniffed from the bytes,
hostile files are refused or served inert, only the conversation's participants fetch them,
and erasure and retention remove the files."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import timedelta

import pytest

from bot.conversation import summarize
from bot.conversation.lifecycle import anonymise_expired
from bot.storage import attachments as files
from bot.storage import store
from tests.utils import make_client, make_cmes, make_settings, say, start_conversation


def png(width: int = 2, height: int = 2) -> bytes:
    """A valid, tiny RGB PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png(), "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20, "image/jpeg"),
        (b"GIF89a" + b"\x00" * 20, "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 20, "image/webp"),
        (PDF, "application/pdf"),
        ("Order INV-2041, café\n".encode(), "text/plain"),
        (HTML, "text/html"),
        (b"  <html><p>hi</p></html>", "text/html"),
        (SVG, "image/svg+xml"),
        (b'<?xml version="1.0"?><svg/>', "image/svg+xml"),
        (b"hello\x00world", "application/octet-stream"),
        (b"\xc3\x28 not utf-8", "application/octet-stream"),
        (b"PK\x03\x04" + b"\x00" * 30, "application/zip"),
    ],
)
def test_sniff_reads_the_bytes_not_the_name(data, expected):
    assert files.sniff(data) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../x.png", "x.png"),
        ("..\\..\\windows\\x.png", "x.png"),
        ("shot\x00.html.png", "shot.html.png"),
        ("\u202egnp.exe", "gnp.exe"),  # right-to-left override dropped
        ("", "attachment"),
        ("..", "attachment"),
        (None, "attachment"),
        ("a" * 5000 + ".png", "a" * 196 + ".png"),
    ],
)
def test_names_lose_paths_controls_and_length(name, expected):
    assert files.clean_name(name) == expected


def claimed(client, conversation_id: str, headers: dict[str, str]) -> dict[str, str]:
    """A CME who claimed the conversation (the customer asked for a person): their headers."""
    with client.app.state.bot.db.write() as session:
        [(_, token)] = make_cmes(session, 1)
    cme = {"Authorization": f"Bearer {token}"}
    client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
    response = client.post(f"/api/cme/conversations/{conversation_id}/claim", headers=cme)
    assert response.status_code == 200, response.text
    return cme


def upload(client, conversation_id: str, headers, name: str, data: bytes, ctype="image/png"):
    return client.post(
        f"/api/conversations/{conversation_id}/attachments",
        files={"file": (name, io.BytesIO(data), ctype)},
        headers=headers,
    )


def raw_upload(client, conversation_id: str, headers, name: bytes, data: bytes):
    """An upload whose file name goes as raw bytes (clients would escape NUL and quotes)."""
    boundary = b"----attachment-test"
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="' + name + b'"\r\n'
        b"Content-Type: image/png\r\n\r\n" + data + b"\r\n--" + boundary + b"--\r\n"
    )
    return client.post(
        f"/api/conversations/{conversation_id}/attachments",
        content=body,
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary.decode()}"},
    )


def test_customer_image_is_a_message_served_inline_and_inert(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url)
    with make_client(settings, fake_embedder) as client:
        conversation_id, headers = start_conversation(client)
        sent = upload(client, conversation_id, headers, "../../screen shot.png", png())
        assert sent.status_code == 201, sent.text
        message = sent.json()
        assert message["role"] == "customer" and message["text"] == "screen shot.png"
        [attachment] = message["attachments"]
        assert attachment["content_type"] == "image/png" and attachment["size"] == len(png())
        # Stored under a random id in the conversation's folder, never under the sent name.
        stored = list((settings.data_dir / "attachments").rglob("*"))
        assert [p.name for p in stored if p.is_file()] == [attachment["id"]]
        assert all("screen" not in str(p) for p in stored)

        listed = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers)
        assert listed.json()["messages"][-1]["attachments"] == [attachment]

        served = client.get(attachment["url"], headers=headers)
        assert served.status_code == 200 and served.content == png()
        assert served.headers["content-type"] == "image/png"
        assert served.headers["content-disposition"].startswith("inline;")
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-security-policy"].startswith("default-src 'none'")

        # The CME sees it in the context packet, with a CME URL.
        cme = claimed(client, conversation_id, headers)
        packet = client.get(f"/api/cme/conversations/{conversation_id}", headers=cme).json()
        [shown] = [m for m in packet["transcript"] if m["attachments"]]
        url = shown["attachments"][0]["url"]
        assert url.startswith("/api/cme/") and client.get(url, headers=cme).content == png()


def test_a_file_is_not_a_turn(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        conversation_id, headers = start_conversation(client)
        sent = upload(client, conversation_id, headers, "error.txt", b"Error 500 at checkout\n")
        assert sent.status_code == 201, sent.text
        # No bot reply to the file, and the next question is answered as usual.
        listed = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers)
        assert [m["role"] for m in listed.json()["messages"]] == ["customer"]
        turn = say(client, conversation_id, headers, "How do I reset my password?")
        assert turn.status_code == 200 and turn.json()["reply"] is not None, turn.text
        # The stranded-turn sweep never mistakes the file for an unfinished turn.
        upload(client, conversation_id, headers, "again.txt", b"still broken\n")
        with bot.db.read() as session:
            later = bot.clock() + timedelta(minutes=5)
            stranded = store.unscored_turns(session, since=later - timedelta(days=1), before=later)
            assert stranded == []
            summary = summarize(store.list_messages(session, conversation_id=conversation_id))
            assert summary.main_question == "How do I reset my password?"


@pytest.mark.real_model
def test_a_screenshot_then_a_question_with_the_real_model(tmp_path, real_embedder):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'real.db'}")
    with make_client(settings, real_embedder) as client:
        conversation_id, headers = start_conversation(client)
        assert upload(client, conversation_id, headers, "shot.png", png()).status_code == 201
        turn = say(client, conversation_id, headers, "How do I reset my password?").json()
        assert turn["reply"]["role"] == "bot" and turn["reply"]["citations"], turn
        assert not turn["message"]["attachments"]


def test_a_failed_transaction_leaves_no_file(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url)
    with make_client(settings, fake_embedder) as client:
        conversation_id, headers = start_conversation(client)
        bot = client.app.state.bot

        def broken(session, conversation, message):  # a hook failing after the file is written
            raise RuntimeError("delivery bookkeeping failed")

        cme = claimed(client, conversation_id, headers)
        bot.message_added = broken
        response = client.post(
            f"/api/cme/conversations/{conversation_id}/attachments",
            files={"file": ("invoice.pdf", io.BytesIO(PDF), "application/pdf")},
            headers=cme,
        )
        assert response.status_code == 500
        assert not [p for p in (settings.data_dir / "attachments").rglob("*") if p.is_file()]


def test_cme_sends_a_pdf_that_downloads_as_an_attachment(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url)
    with make_client(settings, fake_embedder) as client:
        conversation_id, headers = start_conversation(client)
        cme = claimed(client, conversation_id, headers)
        sent = client.post(
            f"/api/cme/conversations/{conversation_id}/attachments",
            files={"file": ("invoice.pdf", io.BytesIO(PDF), "application/pdf")},
            headers=cme,
        )
        assert sent.status_code == 201, sent.text
        assert sent.json()["role"] == "agent" and sent.json()["author"]
        messages = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers)
        [attachment] = messages.json()["messages"][-1]["attachments"]
        served = client.get(attachment["url"], headers=headers)
        assert served.status_code == 200 and served.content == PDF
        assert served.headers["content-disposition"] == 'attachment; filename="invoice.pdf"'

        # Only the owner may send one.
        with client.app.state.bot.db.write() as session:
            [(_, other_token)] = make_cmes(session, 1, prefix="other")
        refused = client.post(
            f"/api/cme/conversations/{conversation_id}/attachments",
            files={"file": ("x.pdf", io.BytesIO(PDF), "application/pdf")},
            headers={"Authorization": f"Bearer {other_token}"},
        )
        assert refused.status_code == 409, refused.text


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("cute-cat.png", HTML, 415),  # an HTML page renamed .png
        ("logo.svg", SVG, 415),
        ("logo.png", SVG, 415),
        ("archive.png", b"PK\x03\x04" + b"\x00" * 60, 415),
        ("binary.txt", b"MZ\x90\x00\x03" + b"\x00" * 60, 415),
        ("empty.png", b"", 400),
    ],
)
def test_hostile_files_are_refused(tmp_path, database_url, fake_embedder, name, data, status):
    settings = make_settings(tmp_path, database_url)
    with make_client(settings, fake_embedder) as client:
        conversation_id, headers = start_conversation(client)
        response = upload(client, conversation_id, headers, name, data)
        assert response.status_code == status, response.text
        assert response.json()["detail"]
        assert not list((settings.data_dir / "attachments").rglob("*"))


def test_oversized_files_get_413(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, attachment_max_bytes=1000)
    with make_client(settings, fake_embedder) as client:
        conversation_id, headers = start_conversation(client)
        big = png() + b"\x00" * 2000  # a PNG signature, padded past the limit
        response = upload(client, conversation_id, headers, "big.png", big)
        assert response.status_code == 413, response.text
        # Past the whole request's limit too: the guard refuses it before parsing.
        huge = upload(client, conversation_id, headers, "huge.png", png() + b"\x00" * 200_000)
        assert huge.status_code == 413, huge.text


def test_hostile_names_are_stored_clean(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url)
    with make_client(settings, fake_embedder) as client:
        conversation_id, headers = start_conversation(client)
        for name, shown in [
            ("../../x.png", "x.png"),
            ("evil\x00.png", "evil.png"),
            ("a" * 3000 + ".png", "a" * 196 + ".png"),
            ("shot'; filename=evil.html", "shot'; filename=evil.html"),
        ]:
            response = raw_upload(client, conversation_id, headers, name.encode(), png())
            assert response.status_code == 201, (name, response.text)
            [attachment] = response.json()["attachments"]
            assert attachment["name"] == shown
            served = client.get(attachment["url"], headers=headers)
            disposition = served.headers["content-disposition"]
            assert "/" not in disposition and "\x00" not in disposition
            assert "evil.html" not in disposition or "filename*=utf-8''" in disposition
        assert not (tmp_path / "x.png").exists() and not (settings.data_dir / "x.png").exists()


def test_another_visitor_cannot_fetch_the_file(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url)
    with make_client(settings, fake_embedder) as client:
        conversation_id, headers = start_conversation(client)
        [attachment] = upload(client, conversation_id, headers, "a.png", png()).json()[
            "attachments"
        ]
        other_id, other_headers = start_conversation(client)
        assert client.get(attachment["url"], headers=other_headers).status_code == 403
        assert client.get(attachment["url"]).status_code == 401
        # Under the other's own conversation, the id names nothing.
        elsewhere = f"/api/conversations/{other_id}/attachments/{attachment['id']}"
        assert client.get(elsewhere, headers=other_headers).status_code == 404
        bad_id = f"/api/conversations/{conversation_id}/attachments/..%2F..%2Fsupportbot.db"
        assert client.get(bad_id, headers=headers).status_code in (404, 422)


def test_erasure_and_retention_remove_the_files(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, retention_days=30)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        folder = settings.data_dir / "attachments"
        erased_id, headers = start_conversation(client, id="cust-erase")
        upload(client, erased_id, headers, "a.png", png())
        kept_id, kept_headers = start_conversation(client, id="cust-keep")
        upload(client, kept_id, kept_headers, "b.png", png())
        with bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        cme = {"Authorization": f"Bearer {token}"}
        receipt = client.delete("/api/cme/customers?customer_id=cust-erase", headers=cme).json()
        assert receipt["removed"]["attachments"] == 1
        assert not (folder / erased_id).exists() and (folder / kept_id).is_dir()

        # Retention: resolved long ago, the file goes with the text.
        client.post(f"/api/conversations/{kept_id}/handoff", headers=kept_headers)
        client.post(f"/api/cme/conversations/{kept_id}/claim", headers=cme)
        assert client.post(f"/api/cme/conversations/{kept_id}/resolve", headers=cme).is_success
        later = bot.clock() + timedelta(days=31)
        bot.clock = lambda: later
        assert anonymise_expired(bot) == [kept_id]
        assert not (folder / kept_id).exists()
        packet = client.get(f"/api/cme/conversations/{kept_id}", headers=cme).json()
        assert all(not m["attachments"] for m in packet["transcript"])
