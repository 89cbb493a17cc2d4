"""Erasing a customer (issue 14, "Retention and erasure"): a canary string the customer wrote
is found in no table, no file under the data folder and no log line afterwards."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import cli
from bot.channels.slack.models import SlackEvent
from bot.storage import Base
from tests.utils import make_client, make_cmes, make_settings, say, start_conversation

CANARY = "CANARY7f3a9e"


def seed(client) -> tuple[str, dict[str, str]]:
    """A customer who wrote the canary everywhere a customer can, plus a Slack event of theirs."""
    conversation_id, headers = start_conversation(
        client, id="cust-canary", name=f"Ada {CANARY}", email=f"{CANARY.lower()}@example.com"
    )
    turn = say(client, conversation_id, headers, f"How do I export my data? {CANARY}").json()
    say(client, conversation_id, headers, f"reach me at {CANARY.lower()}@example.org")
    url = f"/api/conversations/{conversation_id}"
    client.post(
        f"{url}/feedback", json={"seq": turn["reply"]["seq"], "helpful": False}, headers=headers
    )
    client.post(f"{url}/handoff", headers=headers)
    client.post(f"{url}/csat", json={"rating": 2, "comment": f"meh {CANARY}"}, headers=headers)
    with client.app.state.bot.db.write() as session:
        session.add(
            SlackEvent(
                event_id="Ev-canary",
                event_type="message",
                payload={"event": {"user": "cust-canary", "text": f"hello {CANARY}"}},
                status="done",
            )
        )
    return conversation_id, headers


def everything_stored(client) -> str:
    """Every row of every table, as text."""
    rows = []
    with client.app.state.bot.db.read() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).all():
                rows.append(repr(tuple(row)))
    return "\n".join(rows)


def files_under(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in folder.rglob("*") if path.is_file())


def test_cme_api_erases_a_customer_everywhere_with_a_receipt(
    tmp_path, database_url, fake_embedder, caplog
):
    settings = make_settings(tmp_path, database_url)
    with caplog.at_level(logging.INFO), make_client(settings, fake_embedder) as client:
        with client.app.state.bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        cme = {"Authorization": f"Bearer {token}"}
        other_id, other_headers = start_conversation(client, id="cust-other")
        say(client, other_id, other_headers, "Where can I download my invoices?")
        conversation_id, _ = seed(client)
        assert CANARY in everything_stored(client)
        erased = client.delete("/api/cme/customers?customer_id=cust-canary", headers=cme)
        assert erased.status_code == 200, erased.text
        receipt = erased.json()
        assert receipt["conversations"] == [conversation_id]
        assert receipt["removed"]["conversations"] == 1
        assert receipt["removed"]["messages"] >= 4 and receipt["removed"]["feedback"] == 1
        assert receipt["removed"]["csat"] == 1 and receipt["removed"]["slack_events"] == 1
        assert CANARY not in everything_stored(client)
        assert CANARY.lower() not in everything_stored(client)
        assert (
            client.get(f"/api/cme/conversations/{conversation_id}", headers=cme).status_code == 404
        )
        kept = client.get(f"/api/conversations/{other_id}/messages", headers=other_headers)
        assert len(kept.json()["messages"]) == 2  # other customers keep everything
        again = client.delete("/api/cme/customers?customer_id=cust-canary", headers=cme).json()
        assert again["conversations"] == [] and again["removed"]["messages"] == 0
    if database_url.startswith("sqlite"):
        assert CANARY.encode() not in files_under(settings.data_dir)
        database_files = b"".join(path.read_bytes() for path in tmp_path.glob("test.db*"))
        assert database_files and CANARY.encode() not in database_files
    assert CANARY not in caplog.text and CANARY.lower() not in caplog.text


def test_cli_erases_a_customer_and_prints_the_receipt(tmp_path, fake_embedder, capsys, monkeypatch):
    database = tmp_path / "cli.db"
    settings = make_settings(tmp_path, f"sqlite:///{database}")
    with make_client(settings, fake_embedder) as client:
        conversation_id, _ = seed(client)
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("SUPPORTBOT_DATA_DIR", str(settings.data_dir))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["customer", "erase", "cust-canary"]) == 0
    receipt = json.loads(capsys.readouterr().out)
    assert receipt["customer_id"] == "cust-canary"
    assert receipt["conversations"] == [conversation_id]
    assert CANARY.encode() not in database.read_bytes()
    for suffix in ("-wal", "-shm"):
        sidecar = Path(f"{database}{suffix}")
        assert not sidecar.exists() or CANARY.encode() not in sidecar.read_bytes()


@pytest.mark.parametrize(
    ("line", "hidden"),
    [
        ("sign-in failed for ada@example.com", "ada@example.com"),
        ("call me on +44 20 7946 0958 please", "7946 0958"),
        ("card 4111 1111 1111 1111 declined", "4111 1111 1111 1111"),
    ],
)
def test_log_lines_hide_emails_phone_and_card_numbers(line, hidden):
    record = logging.LogRecord("supportbot", logging.INFO, __file__, 1, "%s", (line,), None)
    assert cli.RedactingFilter().filter(record)
    assert hidden not in record.getMessage()


@pytest.mark.parametrize(
    "line",
    [
        "unhandled RuntimeError [357640922c84] in GET /api/conversations/x/messages: boom",
        "turn failed for conversation ef6488a673f04dc1bc78b13f4361bda2 [a1234567890b]",
    ],
)
def test_log_lines_keep_ids_whose_hex_holds_a_run_of_digits(line):
    record = logging.LogRecord("supportbot", logging.INFO, __file__, 1, "%s", (line,), None)
    assert cli.RedactingFilter().filter(record)
    assert record.getMessage() == line


@pytest.mark.parametrize("by", ["customer_id", "record"])
def test_erasure_removes_the_customer_record_notes_nps_and_health(
    tmp_path, database_url, fake_embedder, by
):
    from bot.cme.recompute import recompute
    from bot.storage import Customer, CustomerNote, HealthPoint, NpsSurvey

    settings = make_settings(tmp_path, database_url, health_poll_s=0)
    with make_client(settings, fake_embedder) as client:
        bot = client.app.state.bot
        with bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        cme = {"Authorization": f"Bearer {token}"}
        kept_id, kept_headers = start_conversation(client, id="cust-other")
        say(client, kept_id, kept_headers, "How do I export my data?")
        conversation_id, headers = start_conversation(
            client, id="cust-canary", name=f"Ada {CANARY}"
        )
        say(client, conversation_id, headers, "How do I export my data?")
        assert say(client, conversation_id, headers, "thanks, bye").json()["status"] == "resolved"
        url = f"/api/conversations/{conversation_id}/nps"
        nps = client.post(url, json={"score": 3, "comment": f"no {CANARY}"}, headers=headers)
        assert nps.status_code == 200, nps.text
        packet = client.get(f"/api/cme/conversations/{conversation_id}", headers=cme).json()
        record = packet["conversation"]["customer"]["record_id"]
        note = {"text": f"call back {CANARY}"}
        assert (
            client.post(f"/api/cme/customers/{record}/notes", json=note, headers=cme).status_code
            == 201
        )
        recompute(bot.db, bot.settings, now=bot.clock())

        path = (  # by the id conversations carry, or by the record's number like GET
            "/api/cme/customers?customer_id=cust-canary"
            if by == "customer_id"
            else f"/api/cme/customers/{record}"
        )
        receipt = client.delete(path, headers=cme).json()
        assert receipt["conversations"] == [conversation_id]
        assert receipt["customer_id"] == "cust-canary"
        removed = receipt["removed"]
        assert (removed["customers"], removed["customer_notes"], removed["nps_surveys"]) == (
            1,
            1,
            1,
        )
        assert removed["health_history"] >= 1
        assert CANARY not in everything_stored(client)
        with bot.db.read() as session:
            assert session.get(Customer, record) is None
            for model in (CustomerNote, NpsSurvey, HealthPoint):
                assert not session.scalars(select(model).where(model.customer_id == record)).all()
            # The other customer keeps their record and health.
            assert len(session.scalars(select(Customer)).all()) == 1
            assert session.scalars(select(HealthPoint)).all()
        assert client.get(f"/api/cme/customers/{record}", headers=cme).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/cme/customers/abc", 422),
        ("DELETE", "/api/cme/customers/abc", 422),
        ("DELETE", "/api/cme/customers/0", 422),
        ("DELETE", f"/api/cme/customers/{2**40}", 422),
        ("GET", f"/api/cme/customers/{2**40}", 422),
        ("DELETE", "/api/cme/customers/424242", 404),
        ("GET", "/api/cme/customers/424242", 404),
        ("DELETE", "/api/cme/customers", 422),
        ("DELETE", "/api/cme/customers?customer_id=", 422),
        ("DELETE", "/api/cme/customers?customer_id=a%00b", 422),
        ("DELETE", f"/api/cme/customers?customer_id={'x' * 201}", 422),
    ],
)
def test_customer_ids_are_read_alike_and_bad_ones_get_a_clear_4xx(
    tmp_path, database_url, fake_embedder, method, path, status
):
    with make_client(make_settings(tmp_path, database_url), fake_embedder) as client:
        with client.app.state.bot.db.write() as session:
            [(_, token)] = make_cmes(session, 1)
        response = client.request(method, path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == status, response.text
