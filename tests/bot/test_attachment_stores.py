"""Where attachments live (issue 19): a total quota over all of them (507 past it), and an
S3-compatible bucket when configured, tested against a real S3 server on loopback (moto's
ThreadedMotoServer): upload, download, a failed transaction leaves no object, erasure deletes
the objects. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import socket

import pytest

from bot.storage import Attachment
from bot.storage.filestore import FileStoreError, S3Store
from tests.bot.test_attachments import PDF, claimed, png, upload
from tests.utils import make_client, make_cmes, make_settings, start_conversation

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

BUCKET = "supportbot-files"
KEYS = {"attachment_s3_access_key_id": "testing", "attachment_s3_secret_access_key": "testing"}


def test_past_the_total_quota_a_file_gets_507_until_space_is_freed(
    tmp_path, database_url, fake_embedder
):
    size = len(png())
    settings = make_settings(tmp_path, database_url, attachment_total_max_bytes=2 * size + 10)
    with make_client(settings, fake_embedder) as client:
        erased_id, erased = start_conversation(client, id="cust-full")
        assert upload(client, erased_id, erased, "a.png", png()).status_code == 201
        other_id, other = start_conversation(client)
        assert upload(client, other_id, other, "b.png", png()).status_code == 201

        full = upload(client, other_id, other, "c.png", png())
        assert full.status_code == 507, full.text
        assert "storage is full" in full.json()["detail"]
        assert f"{2 * size} of {2 * size + 10} bytes used" in full.json()["detail"]
        with client.app.state.bot.db.read() as session:
            assert session.query(Attachment).count() == 2
        assert len([p for p in (settings.data_dir / "attachments").rglob("*") if p.is_file()]) == 2

        # Erasing a customer frees their share.
        with client.app.state.bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        cme = {"Authorization": f"Bearer {token}"}
        assert client.delete(
            "/api/cme/customers", params={"customer_id": "cust-full"}, headers=cme
        ).is_success
        assert upload(client, other_id, other, "c.png", png()).status_code == 201


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_url():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_url, request):
    """A fresh bucket on the server, and a client to look inside it."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    name = f"{BUCKET}-{abs(hash(request.node.name)) % 10**8}"
    client.create_bucket(Bucket=name)
    return client, name


def objects(client, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_attachments_go_to_the_bucket_and_erasure_deletes_them(
    tmp_path, database_url, fake_embedder, s3_url, bucket
):
    s3, name = bucket
    settings = make_settings(
        tmp_path,
        database_url,
        attachment_s3_bucket=name,
        attachment_s3_endpoint_url=s3_url,
        **KEYS,
    )
    with make_client(settings, fake_embedder) as client:
        erased_id, erased = start_conversation(client, id="cust-erase")
        [image] = upload(client, erased_id, erased, "shot.png", png()).json()["attachments"]
        [pdf] = upload(client, erased_id, erased, "r\u00e9sum\u00e9.pdf", PDF).json()["attachments"]
        kept_id, kept = start_conversation(client, id="cust-keep")
        [kept_file] = upload(client, kept_id, kept, "b.png", png()).json()["attachments"]
        assert objects(s3, name) == sorted(
            [
                f"attachments/{erased_id}/{image['id']}",
                f"attachments/{erased_id}/{pdf['id']}",
                f"attachments/{kept_id}/{kept_file['id']}",
            ]
        )
        assert not (settings.data_dir / "attachments").exists()  # nothing on local disk

        served = client.get(image["url"], headers=erased)
        assert served.status_code == 200 and served.content == png()
        assert served.headers["content-type"] == "image/png"
        assert served.headers["content-disposition"] == 'inline; filename="shot.png"'
        assert served.headers["x-content-type-options"] == "nosniff"
        document = client.get(pdf["url"], headers=erased)
        assert document.content == PDF
        assert document.headers["content-disposition"] == (
            "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf"
        )
        refused = upload(client, erased_id, erased, "page.png", b"<html><script>x</script>")
        assert refused.status_code == 415 and len(objects(s3, name)) == 3

        with client.app.state.bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        cme = {"Authorization": f"Bearer {token}"}
        receipt = client.delete(
            "/api/cme/customers", params={"customer_id": "cust-erase"}, headers=cme
        ).json()
        assert receipt["removed"]["attachments"] == 2
        assert objects(s3, name) == [f"attachments/{kept_id}/{kept_file['id']}"]
        assert client.get(kept_file["url"], headers=kept).content == png()


def test_a_failed_transaction_leaves_no_object(
    tmp_path, database_url, fake_embedder, s3_url, bucket
):
    s3, name = bucket
    settings = make_settings(
        tmp_path, database_url, attachment_s3_bucket=name, attachment_s3_endpoint_url=s3_url, **KEYS
    )
    with make_client(settings, fake_embedder) as client:
        conversation_id, headers = start_conversation(client)
        bot = client.app.state.bot

        def broken(session, conversation, message):  # a hook failing after the object is put
            raise RuntimeError("delivery bookkeeping failed")

        cme = claimed(client, conversation_id, headers)
        bot.message_added = broken
        response = client.post(
            f"/api/cme/conversations/{conversation_id}/attachments",
            files={"file": ("invoice.pdf", io.BytesIO(PDF), "application/pdf")},
            headers=cme,
        )
        assert response.status_code == 500
        assert objects(s3, name) == []


def test_an_unreachable_store_is_a_503_not_a_500(tmp_path, database_url, fake_embedder):
    settings = make_settings(
        tmp_path,
        database_url,
        attachment_s3_bucket="nowhere",
        attachment_s3_endpoint_url=f"http://127.0.0.1:{free_port()}",
        **KEYS,
    )
    with make_client(settings, fake_embedder) as client:
        conversation_id, headers = start_conversation(client)
        response = upload(client, conversation_id, headers, "a.png", png())
        assert response.status_code == 503, response.text
        assert "unreachable" in response.json()["detail"]


def test_a_missing_object_reads_as_none(s3_url, bucket):
    s3, name = bucket
    store = S3Store(s3, name, "p/")
    store.put("c1", "a1", b"bytes")
    assert store.get("c1", "a1") == b"bytes" and store.get("c1", "zz") is None
    store.delete("c1", "zz")  # no error
    store.delete_conversations(["c1", "c2"])
    assert objects(s3, name) == []
    with pytest.raises(FileStoreError):
        S3Store(s3, "no-such-bucket").put("c", "a", b"x")
