"""CME availability and automatic assignment: the online CME with the lowest load gets a new
escalation (round-robin among equals, VIP first, never over the limit, one owner), and the
console notifies them."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from bot.cme.assignment import Availability, pick
from tests.console.conftest import console_app, make_cme
from tests.console.test_console_browser import Customer, queue_item, sign_in
from tests.utils import make_settings, say, start_conversation


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, auto_assign=True, auto_assign_limit=2)
    app = console_app(settings, fake_embedder)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def cme(client, name: str, status: str | None = "online"):
    account = make_cme(client.app, email=f"{name.lower()}@example.com", name=name)
    if status:
        response = client.post("/api/cme/presence", json={"status": status}, headers=account.bearer)
        assert response.status_code == 200, response.text
    return account


def escalate(client) -> str:
    conversation_id, headers = start_conversation(client, name="Sam")
    say(client, conversation_id, headers, "How do I export my data?")
    assert client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers).is_success
    return conversation_id


def owner_of(client, conversation_id: str, timeout_s: float = 10) -> int | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        packet = client.get(
            f"/api/cme/conversations/{conversation_id}", headers=client.admin.bearer
        ).json()
        if packet["conversation"]["owner_id"] is not None:
            return packet["conversation"]["owner_id"]
        time.sleep(0.1)
    return None


def test_an_escalation_goes_to_the_online_cme_with_the_lowest_load(client):
    client.admin = cme(client, "Admin", status=None)  # never online: never assigned
    alice = cme(client, "Alice")
    first = escalate(client)
    assert owner_of(client, first) == alice.id
    bob = cme(client, "Bob")
    cme(client, "Carol", status="offline")
    dave = cme(client, "Dave", status="away")
    second = escalate(client)
    assert owner_of(client, second) == bob.id  # Alice has one, Bob none
    third = escalate(client)
    assert owner_of(client, third) == alice.id  # equal loads: the one assigned longest ago
    fourth = escalate(client)
    assert owner_of(client, fourth) == bob.id
    fifth = escalate(client)  # everyone online is at the limit of 2: it waits
    assert owner_of(client, fifth, timeout_s=1.5) is None
    presence = client.get("/api/cme/presence", headers=alice.bearer).json()
    loads = {row["name"]: (row["status"], row["load"]) for row in presence["cmes"]}
    assert loads["Alice"] == ("online", 2) and loads["Bob"] == ("online", 2)
    assert loads["Carol"] == ("offline", 0) and loads["Dave"] == ("away", 0)
    client.post("/api/cme/presence", json={"status": "online"}, headers=dave.bearer)
    assert owner_of(client, fifth) == dave.id  # coming online picks up the waiting one


def test_vip_conversations_are_assigned_first(client):
    client.admin = cme(client, "Admin", status=None)
    plain = escalate(client)
    vip = escalate(client)
    client.post(
        f"/api/cme/conversations/{vip}/vip", json={"vip": True}, headers=client.admin.bearer
    )
    erin = make_cme(client.app, email="erin@example.com", name="Erin")
    client.app.state.bot.settings.auto_assign_limit = 1
    client.post("/api/cme/presence", json={"status": "online"}, headers=erin.bearer)
    assert owner_of(client, vip) == erin.id
    assert owner_of(client, plain, timeout_s=1.5) is None


def make_at_risk(client, conversation_id: str) -> None:
    from bot.storage import Conversation, Customer

    with client.app.state.bot.db.write() as session:
        record = session.get(Conversation, conversation_id).customer_ref
        session.get(Customer, record).health_tier = "at_risk"


@pytest.fixture
def one_at_a_time(tmp_path, database_url, fake_embedder):
    """Assignment one conversation per CME; health is not recomputed behind the test's back."""
    settings = make_settings(
        tmp_path, database_url, auto_assign=True, auto_assign_limit=1, health_poll_s=0
    )
    with TestClient(console_app(settings, fake_embedder), raise_server_exceptions=False) as client:
        yield client


def test_vip_then_at_risk_then_the_longest_waiting_are_assigned_first(one_at_a_time):
    client = one_at_a_time
    client.admin = cme(client, "Admin", status=None)
    oldest = escalate(client)
    at_risk = escalate(client)
    make_at_risk(client, at_risk)
    vip = escalate(client)
    client.post(
        f"/api/cme/conversations/{vip}/vip", json={"vip": True}, headers=client.admin.bearer
    )
    erin = cme(client, "Erin")
    for expected in (vip, at_risk, oldest):  # one at a time: the limit is 1
        assert owner_of(client, expected) == erin.id
        others = {vip, at_risk, oldest} - {expected}
        waiting = client.get("/api/cme/queue?view=unassigned", headers=erin.bearer).json()
        assert {row["id"] for row in waiting["conversations"]} <= others
        done = client.post(f"/api/cme/conversations/{expected}/resolve", headers=erin.bearer)
        assert done.status_code == 200, done.text


@pytest.mark.parametrize(
    ("waiting", "order"),
    [
        # (id, vip, at_risk, minutes waiting) -> assignment order
        ([("a", False, False, 9), ("b", True, False, 1)], "ba"),
        ([("a", False, False, 9), ("b", False, True, 1)], "ba"),
        ([("a", False, True, 9), ("b", True, False, 1)], "ba"),
        ([("a", True, False, 1), ("b", True, True, 1)], "ba"),
        ([("a", False, False, 1), ("b", False, False, 5), ("c", False, False, 3)], "bca"),
        ([("a", False, True, 1), ("b", False, True, 5), ("c", True, False, 0)], "cba"),
        ([("b", False, False, None), ("a", False, False, 2)], "ab"),
        ([("b", False, False, 2), ("a", False, False, 2)], "ab"),
        ([], ""),
    ],
)
def test_assignment_order_is_vip_then_at_risk_then_longest_waiting(waiting, order):
    from datetime import UTC, datetime

    from bot.cme.assignment import Waiting, assignment_order

    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    rows = [
        Waiting(
            conversation_id=name,
            vip=vip,
            at_risk=at_risk,
            since=None if minutes is None else now - timedelta(minutes=minutes),
        )
        for name, vip, at_risk, minutes in waiting
    ]
    assert "".join(assignment_order(rows)) == order


def test_an_online_cme_not_seen_for_a_while_counts_as_away(client):
    client.admin = cme(client, "Admin", status=None)
    frank = cme(client, "Frank")
    bot = client.app.state.bot
    start = bot.clock()
    bot.clock = lambda: start + timedelta(seconds=bot.settings.away_after_s + 1)
    rows = client.get("/api/cme/presence", headers=frank.bearer).json()["cmes"]
    assert {row["name"]: row["status"] for row in rows}["Frank"] == "away"
    conversation_id = escalate(client)
    assert owner_of(client, conversation_id, timeout_s=1.5) is None


@pytest.mark.parametrize(
    ("candidates", "chosen"),
    [
        ([("online", 1, None), ("online", 0, None)], 2),
        ([("online", 1, 5), ("online", 1, 3)], 2),
        ([("online", 1, None), ("online", 1, 3)], 1),
        ([("away", 0, None), ("offline", 0, None), ("online", 3, None)], None),
        ([("online", 2, None), ("online", 2, 1)], None),
    ],
)
def test_pick_is_lowest_load_then_round_robin_under_the_limit(candidates, chosen):
    from datetime import UTC, datetime

    rows = [
        Availability(
            user_id=index,
            name=f"cme {index}",
            status=status,
            load=load,
            last_assigned_at=None if at is None else datetime(2026, 1, 1, 0, at, tzinfo=UTC),
        )
        for index, (status, load, at) in enumerate(candidates, start=1)
    ]
    found = pick(rows, limit=2)
    assert (found.user_id if found else None) == chosen


def test_presence_refuses_unknown_states(client):
    gail = make_cme(client.app, email="gail@example.com", name="Gail")
    response = client.post("/api/cme/presence", json={"status": "busy"}, headers=gail.bearer)
    assert response.status_code == 422


NOTIFICATIONS = """
window.__notes = [];
class FakeNotification {
  constructor(title, options) { window.__notes.push([title, options && options.body]); }
}
FakeNotification.permission = "granted";
FakeNotification.requestPermission = async () => "granted";
window.Notification = FakeNotification;
"""


@pytest.fixture
def assigning_server(tmp_path):
    import socket
    import threading

    import uvicorn

    from embedding import FakeEmbedder
    from tests.console.conftest import LiveServer
    from tests.utils import MINI_KB, write_kb

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'assign.db'}",
        public_url=url,
        kb_dir=write_kb(tmp_path / "kb", MINI_KB),
        auto_assign=True,
    )
    app = console_app(settings, FakeEmbedder())
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    yield LiveServer(url, app, settings)
    server.should_exit = True
    thread.join(15)
    sock.close()


@pytest.mark.browser
def test_the_assigned_cme_is_notified_in_the_console(assigning_server, page):
    server = assigning_server
    alice = make_cme(server.app, email="alice@example.com", name="Alice Agent")
    bob = make_cme(server.app, email="bob@example.com", name="Bob Backup")
    page.add_init_script(NOTIFICATIONS)
    sign_in(page, server, bob)
    expect(page.locator("#presence")).to_have_value("online")
    page.check("#notify")
    with httpx.Client(base_url=server.url, timeout=10) as http:
        http.post("/api/cme/presence", json={"status": "online"}, headers=alice.bearer)
        busy = Customer(http, name="Busy Bee")
        busy.say("Where can I download my invoices?")
        busy.ask_for_a_human()  # equal loads, neither assigned yet: the lower id, Alice
        expect(queue_item(page, busy.id)).to_contain_text("claimed by Alice Agent")
        grace = Customer(http, name="Grace Hopper")
        grace.say("How do I export my data?")
        grace.ask_for_a_human()
    item = queue_item(page, grace.id)
    expect(item).to_contain_text("claimed by you")  # Alice has one, Bob none: Bob gets it
    page.wait_for_function("window.__notes.some(([title]) => title.startsWith('Assigned to you'))")
    notes = page.evaluate("window.__notes")
    assert any(re.match(r"Assigned to you: Grace Hopper", title) for title, _ in notes), notes
    assert any(body == "How do I export my data?" for _, body in notes)


@pytest.fixture
def team_client(tmp_path, database_url, fake_embedder):
    from tests.utils import MINI_KB, write_kb

    articles = dict(MINI_KB)
    articles["billing/invoices.md"] = articles["billing/invoices.md"].replace(
        "---\n", "---\nteam: billing\n", 1
    )
    settings = make_settings(
        tmp_path,
        database_url,
        kb_dir=write_kb(tmp_path / "kb", articles),
        auto_assign=True,
        auto_assign_limit=3,
    )
    with TestClient(console_app(settings, fake_embedder), raise_server_exceptions=False) as client:
        yield client


def test_an_escalation_about_a_team_article_goes_to_that_team(team_client):
    client = team_client
    client.admin = cme(client, "Admin", status=None)
    billing = make_cme(client.app, email="bill@example.com", name="Bill")
    client.post(
        "/api/cme/presence", json={"status": "online", "teams": ["billing"]}, headers=billing.bearer
    )
    first = escalate(client)  # a data question: no team; Bill is the only one online
    assert owner_of(client, first) == billing.id
    alice = cme(client, "Alice")
    conversation_id, headers = start_conversation(client, name="Sam")
    say(client, conversation_id, headers, "Where can I download my invoices?")
    client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
    assert owner_of(client, conversation_id) == billing.id  # Alice has fewer, Bill the team
    other = escalate(client)
    assert owner_of(client, other) == alice.id
    card = client.get("/api/cme/queue?view=all", headers=alice.bearer).json()["conversations"]
    assert {row["id"]: row["team"] for row in card}[conversation_id] == "billing"
    teams = client.post(
        "/api/cme/presence", json={"status": "online", "teams": ["Billing!"]}, headers=alice.bearer
    )
    assert teams.status_code == 422


def test_the_queue_shows_one_teams_conversations_when_asked(team_client):
    client = team_client
    alice = cme(client, "Alice", status=None)  # nobody online: everything waits
    plain = escalate(client)
    billed, headers = start_conversation(client, name="Sam")
    say(client, billed, headers, "Where can I download my invoices?")
    client.post(f"/api/conversations/{billed}/handoff", headers=headers)

    def shown(query: str) -> list[str]:
        response = client.get(f"/api/cme/queue{query}", headers=alice.bearer)
        assert response.status_code == 200, response.text
        return sorted(row["id"] for row in response.json()["conversations"])

    assert shown("?team=billing") == [billed]
    assert shown("?view=unassigned&team=billing") == [billed]
    assert shown("?team=technical") == []
    assert shown("") == sorted([plain, billed])
    for bad in ("Billing!", "", "x" * 41, "a%00b"):
        refused = client.get(f"/api/cme/queue?team={bad}", headers=alice.bearer)
        assert refused.status_code == 422, bad


def test_user_add_puts_the_cme_in_teams_and_may_make_an_admin(tmp_path, monkeypatch, capsys):
    import json
    import os

    from bot import cli

    for name in [n for n in os.environ if n.startswith("SUPPORTBOT_")]:
        monkeypatch.delenv(name)
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", database)
    monkeypatch.setenv("SUPPORTBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    add = ["user", "add", "--email", "bill@example.com", "--password", "long enough pw"]
    assert cli.main([*add, "--team", "billing", "--team", "technical", "--admin"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["admin"] is True and printed["teams"] == ["billing", "technical"]
    with pytest.raises(SystemExit) as refused:
        cli.main(
            ["user", "add", "--email", "x@example.com", "--password", "pw123456789"]
            + ["--team", "Billing!"]
        )
    assert refused.value.code == 2
    assert "team" in capsys.readouterr().err

    from bot.storage import CmePresence, Database, User

    db = Database(database)
    try:
        with db.read() as session:
            user = session.get(User, printed["id"])
            assert user.is_admin
            presence = session.get(CmePresence, user.id)
            assert (presence.status, presence.teams) == ("offline", "billing,technical")
    finally:
        db.dispose()
