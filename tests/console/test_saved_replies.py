"""Saved replies: personal and team, who may change which, bounded input; and in the console,
a reply whose {customer.name} is filled in when inserted."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.console.conftest import console_app, make_cme
from tests.console.test_console_browser import Customer, queue_item, sign_in
from tests.utils import make_settings

PATH = "/api/cme/saved-replies"


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    app = console_app(make_settings(tmp_path, database_url), fake_embedder)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.alice = make_cme(app, email="alice@example.com", name="Alice")
        client.bob = make_cme(app, email="bob@example.com", name="Bob")
        yield client


def titles(client: TestClient, who) -> list[tuple[str, str]]:
    data = client.get(PATH, headers=who.bearer).json()
    assert "customer.name" in data["variables"]
    return [(reply["title"], reply["scope"]) for reply in data["replies"]]


def test_personal_replies_are_yours_and_team_replies_everyones(client):
    alice, bob = client.alice, client.bob
    mine = client.post(
        PATH, json={"title": "Checking", "text": "Let me check."}, headers=alice.bearer
    )
    assert mine.status_code == 201 and mine.json()["scope"] == "personal"
    team = client.post(
        PATH,
        json={"title": "Hello", "text": "Hi {customer.name}!", "scope": "team"},
        headers=alice.bearer,
    )
    assert team.status_code == 201
    assert titles(client, alice) == [("Hello", "team"), ("Checking", "personal")]
    assert titles(client, bob) == [("Hello", "team")]

    mine_id, team_id = mine.json()["id"], team.json()["id"]
    bobs_edit = {"title": "Mine now", "text": "x"}
    assert client.put(f"{PATH}/{mine_id}", json=bobs_edit, headers=bob.bearer).status_code == 403
    assert client.delete(f"{PATH}/{mine_id}", headers=bob.bearer).status_code == 403
    changed = client.put(
        f"{PATH}/{team_id}",
        json={"title": "Hello", "text": "Hello {customer.first_name}", "scope": "team"},
        headers=bob.bearer,
    )
    assert changed.status_code == 200 and changed.json()["text"] == "Hello {customer.first_name}"
    assert client.delete(f"{PATH}/{team_id}", headers=bob.bearer).status_code == 204
    assert client.delete(f"{PATH}/{team_id}", headers=bob.bearer).status_code == 404
    assert titles(client, alice) == [("Checking", "personal")]


@pytest.mark.parametrize(
    "body",
    [
        {"title": "", "text": "x"},
        {"title": "t" * 121, "text": "x"},
        {"title": "t", "text": ""},
        {"title": "t", "text": "x" * 4001},
        {"title": "t", "text": "x", "scope": "everyone"},
        {"title": "t", "text": "x", "owner_id": 2},
    ],
)
def test_bad_saved_replies_get_422(client, body):
    assert client.post(PATH, json=body, headers=client.alice.bearer).status_code == 422


def test_ids_out_of_range_get_422(client):
    assert client.delete(f"{PATH}/0", headers=client.alice.bearer).status_code == 422
    assert client.delete(f"{PATH}/{2**40}", headers=client.alice.bearer).status_code == 422


@pytest.mark.browser
def test_a_saved_reply_is_inserted_with_the_customers_name(live_server, page, http):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    grace = Customer(http, name="Grace Hopper")
    grace.say("How do I export my data?")
    grace.ask_for_a_human()
    sign_in(page, live_server, alice)
    queue_item(page, grace.id).click()
    page.click("button[data-action=claim]")
    expect(page.locator("#status")).to_have_text("claimed by you")

    page.locator("#saved-replies summary").click()
    page.fill("#saved-title", "Greeting")
    page.fill("#saved-text", "Hi {customer.first_name}, {agent.name} here. {unknown} stays.")
    page.select_option("#saved-scope", "team")
    page.click("#saved-form button[type=submit]")
    reply = page.locator("#saved-list .saved-reply")
    expect(reply).to_have_count(1)
    expect(reply.locator(".badge")).to_have_text("team")
    reply.locator("button.insert").click()
    expect(page.locator("#reply-text")).to_have_value(
        "Hi Grace, Alice Agent here. {unknown} stays."
    )
    page.click("#send-reply")
    expect(page.locator("#transcript .role-agent")).to_contain_text("Hi Grace, Alice Agent here.")


def make_admin(client, who) -> None:
    from bot.storage import User

    with client.app.state.bot.db.write() as session:
        session.get(User, who.id).is_admin = True


def scope_of(client, reply_id: int, who) -> str:
    replies = client.get(PATH, headers=who.bearer).json()["replies"]
    return next(reply["scope"] for reply in replies if reply["id"] == reply_id)


def test_only_the_author_or_an_admin_may_make_a_team_reply_personal(client):
    alice, bob = client.alice, client.bob
    carol = make_cme(client.app, email="carol@example.com", name="Carol")
    make_admin(client, carol)
    team = client.post(
        PATH, json={"title": "Hi", "text": "Hello!", "scope": "team"}, headers=alice.bearer
    ).json()
    assert team["author_id"] == alice.id and team["owner_id"] is None
    path = f"{PATH}/{team['id']}"

    taken = client.put(
        path, json={"title": "Hi", "text": "Mine", "scope": "personal"}, headers=bob.bearer
    )
    assert taken.status_code == 403 and "author" in taken.json()["detail"]
    assert scope_of(client, team["id"], alice) == "team"  # unchanged, text included
    assert client.get(PATH, headers=bob.bearer).json()["replies"][0]["text"] == "Hello!"

    edited = client.put(
        path, json={"title": "Hi", "text": "Hello there!", "scope": "team"}, headers=bob.bearer
    )
    assert edited.status_code == 200  # editing a team reply stays open to everyone

    by_admin = client.put(
        path, json={"title": "Hi", "text": "x", "scope": "personal"}, headers=carol.bearer
    )
    assert by_admin.status_code == 200 and by_admin.json()["owner_id"] == carol.id

    again = client.post(
        PATH, json={"title": "Bye", "text": "Bye!", "scope": "team"}, headers=alice.bearer
    ).json()
    by_author = client.put(
        f"{PATH}/{again['id']}",
        json={"title": "Bye", "text": "Bye!", "scope": "personal"},
        headers=alice.bearer,
    )
    assert by_author.status_code == 200 and by_author.json()["scope"] == "personal"
    assert scope_of(client, again["id"], alice) == "personal"
