"""Console sign-in, session cookies, CSRF, the live socket and the console's JSON helpers,
through the real app (no browser), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import stat
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.cme.auth import SESSION_COOKIE
from tests.console.conftest import (
    PASSWORD,
    console_app,
    login_form_token,
    make_cme,
    page_csrf,
    sign_in,
)
from tests.utils import make_settings, say, start_conversation

ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url)


@pytest.fixture
def client(settings, fake_embedder):
    app = console_app(settings, fake_embedder)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.alice = make_cme(app, email="alice@example.com", name="Alice")
        client.bob = make_cme(app, email="bob@example.com", name="Bob")
        yield client


def waiting_conversation(client: TestClient, **customer) -> str:
    conversation_id, headers = start_conversation(client, **customer)
    response = client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
    assert response.json()["status"] == "waiting"
    return conversation_id


def session_cookie(response) -> SimpleCookie:
    cookies = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    return cookies


# ------------------------------------------------------------------------------- sign-in


def test_sign_in_opens_the_console_with_a_session(client):
    response = sign_in(client, "Alice@Example.com")
    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    assert SESSION_COOKIE in session_cookie(response)
    page = client.get("/console")
    assert page.status_code == 200
    assert '<script src="/static/console.js" defer></script>' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert client.get("/api/cme/me").json()["email"] == "alice@example.com"


@pytest.mark.parametrize(
    ("email", "password"),
    [("alice@example.com", "wrong password"), ("nobody@example.com", PASSWORD), ("", "")],
)
def test_wrong_credentials_are_refused_without_a_session(client, email, password):
    response = sign_in(client, email, password)
    assert response.status_code == 401
    assert "Wrong email or password" in response.text
    assert SESSION_COOKIE not in session_cookie(response)
    assert client.get("/api/cme/me").status_code == 401


def test_sign_in_without_the_form_token_is_refused(client):
    login_form_token(client)
    response = client.post(
        "/console/login",
        data={"email": "alice@example.com", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "expired or was not sent from this site" in response.text
    assert SESSION_COOKIE not in session_cookie(response)


def test_form_token_from_another_browser_is_refused(client):
    token = login_form_token(client)
    client.cookies.clear()
    login_form_token(client)  # a different login cookie now
    client.cookies.set("supportbot_login", "someone-elses-nonce", path="/console/login")
    response = client.post(
        "/console/login",
        data={"email": "alice@example.com", "password": PASSWORD, "csrf": token},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_repeated_failed_sign_ins_are_throttled(client):
    for _ in range(5):
        assert sign_in(client, "alice@example.com", "guess").status_code == 401
    throttled = sign_in(client, "alice@example.com", PASSWORD)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in throttled.text
    assert sign_in(client, "bob@example.com", PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("public_url", "secure"), [("http://127.0.0.1:8000", False), ("https://help.example.com", True)]
)
def test_session_cookie_is_httponly_lax_and_secure_on_https(
    tmp_path, database_url, fake_embedder, public_url, secure
):
    settings = make_settings(tmp_path, database_url, public_url=public_url)
    app = console_app(settings, fake_embedder)
    scheme = "https" if secure else "http"
    with TestClient(app, base_url=f"{scheme}://testserver") as client:
        make_cme(app, email="alice@example.com", name="Alice")
        response = sign_in(client, "alice@example.com")
    assert response.status_code == 303, response.text
    morsel = session_cookie(response)[SESSION_COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "lax"
    assert morsel["path"] == "/"
    assert bool(morsel["secure"]) is secure
    assert int(morsel["max-age"]) > 0


def test_console_redirects_to_sign_in_and_back_to_the_page(client):
    path = "/console/conversations/abc123"
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/login?next={path}"
    token = login_form_token(client, path)
    signed_in = client.post(
        "/console/login",
        data={"email": "alice@example.com", "password": PASSWORD, "csrf": token, "next": path},
        follow_redirects=False,
    )
    assert signed_in.headers["location"] == path


@pytest.mark.parametrize("next_path", ["https://evil.example", "//evil.example", "/api/cme/me"])
def test_sign_in_never_redirects_off_the_console(client, next_path):
    token = login_form_token(client)
    response = client.post(
        "/console/login",
        data={"email": "alice@example.com", "password": PASSWORD, "csrf": token, "next": next_path},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/console"


def test_sign_out_revokes_the_session(client):
    sign_in(client, "alice@example.com")
    cookie = client.cookies.get(SESSION_COOKIE)
    csrf = page_csrf(client)
    response = client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"
    client.cookies.set(SESSION_COOKIE, cookie)  # a copy of the cookie kept by an attacker
    assert client.get("/api/cme/me").status_code == 401


def test_sign_out_holds_across_a_restart(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url)
    first = console_app(settings, fake_embedder)
    with TestClient(first) as client:
        make_cme(first, email="alice@example.com", name="Alice")
        sign_in(client, "alice@example.com")
        cookie = client.cookies.get(SESSION_COOKIE)
        signed_out = client.post("/console/logout", data={"csrf": page_csrf(client)})
        assert signed_out.status_code == 200  # the sign-in page, after the redirect
    second = console_app(settings, fake_embedder)
    with TestClient(second) as client:
        client.cookies.set(SESSION_COOKIE, cookie)  # a copy kept by whoever had the browser
        assert client.get("/api/cme/me").status_code == 401
        assert client.get("/console", follow_redirects=False).status_code == 303
        sign_in(client, "alice@example.com")
        assert client.get("/api/cme/me").status_code == 200


def test_sign_out_without_csrf_token_is_refused(client):
    sign_in(client, "alice@example.com")
    assert client.post("/console/logout", follow_redirects=False).status_code == 403
    assert client.get("/api/cme/me").status_code == 200


def test_tampered_session_cookie_is_ignored(client):
    sign_in(client, "alice@example.com")
    cookie = client.cookies.get(SESSION_COOKIE)
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, ("B" if cookie[0] == "A" else "A") + cookie[1:])
    assert client.get("/api/cme/me").status_code == 401


def test_secret_is_generated_once_and_sessions_survive_a_restart(
    tmp_path, database_url, fake_embedder
):
    settings = make_settings(tmp_path, database_url, admin_token="")
    first = console_app(settings, fake_embedder)
    secret_file = settings.data_dir / "console_secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    with TestClient(first) as client:
        make_cme(first, email="alice@example.com", name="Alice")
        sign_in(client, "alice@example.com")
        cookie = client.cookies.get(SESSION_COOKIE)
    contents = secret_file.read_text()
    second = console_app(settings, fake_embedder)
    assert secret_file.read_text() == contents
    with TestClient(second) as client:
        client.cookies.set(SESSION_COOKIE, cookie)
        assert client.get("/api/cme/me").json()["email"] == "alice@example.com"


# ---------------------------------------------------------------------------------- CSRF


def test_cookie_request_without_csrf_header_gets_403(client):
    conversation_id = waiting_conversation(client)
    sign_in(client, "alice@example.com")
    response = client.post(f"/api/cme/conversations/{conversation_id}/claim")
    assert response.status_code == 403
    assert "missing X-CSRF-Token" in response.json()["detail"]
    assert (
        client.get(f"/api/cme/conversations/{conversation_id}").json()["conversation"]["status"]
        == "waiting"
    )


def test_cookie_request_with_wrong_csrf_header_gets_403(client):
    conversation_id = waiting_conversation(client)
    sign_in(client, "alice@example.com")
    response = client.post(
        f"/api/cme/conversations/{conversation_id}/claim", headers={"X-CSRF-Token": "forged"}
    )
    assert response.status_code == 403
    assert "does not match" in response.json()["detail"]


def test_cookie_request_with_the_page_csrf_token_succeeds(client):
    conversation_id = waiting_conversation(client)
    sign_in(client, "alice@example.com")
    response = client.post(
        f"/api/cme/conversations/{conversation_id}/claim",
        headers={"X-CSRF-Token": page_csrf(client)},
    )
    assert response.status_code == 200, response.text
    assert response.json()["owner_id"] == client.alice.id


def test_bearer_request_needs_no_csrf_token_even_with_a_cookie(client):
    conversation_id = waiting_conversation(client)
    sign_in(client, "alice@example.com")  # the cookie is sent too, and ignored
    response = client.post(
        f"/api/cme/conversations/{conversation_id}/claim", headers=client.bob.bearer
    )
    assert response.status_code == 200, response.text
    assert response.json()["owner_id"] == client.bob.id


def test_empty_bearer_does_not_bypass_csrf(client):
    conversation_id = waiting_conversation(client)
    sign_in(client, "alice@example.com")
    response = client.post(
        f"/api/cme/conversations/{conversation_id}/claim", headers={"Authorization": "Bearer "}
    )
    assert response.status_code == 403


# ------------------------------------------------------------------------------ WebSocket


def test_websocket_without_a_session_is_refused(client):
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect("/api/cme/ws", headers=dict(ORIGIN)):
            pass
    assert refused.value.code == 4401


def test_websocket_from_another_origin_is_refused(client):
    sign_in(client, "alice@example.com")
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect("/api/cme/ws", headers={"origin": "https://evil.example"}):
            pass
    assert refused.value.code == 4403


def next_pushed(socket, kind: str) -> dict:
    """The next message of one type; queue refreshes may arrive in between at any time."""
    while True:
        pushed = socket.receive_json()
        if pushed["type"] == kind:
            return pushed


def test_websocket_pushes_the_queue_and_the_open_conversation(client):
    sign_in(client, "alice@example.com")
    with client.websocket_connect("/api/cme/ws", headers=dict(ORIGIN)) as socket:
        assert socket.receive_json() == {"type": "queue", "conversations": []}
        conversation_id = waiting_conversation(client, name="Grace")
        pushed = next_pushed(socket, "queue")
        assert [row["id"] for row in pushed["conversations"]] == [conversation_id]
        socket.send_json({"type": "watch", "conversation_id": conversation_id})
        watching = next_pushed(socket, "watching")
        assert watching["conversation_id"] == conversation_id
        client.post(
            f"/api/cme/conversations/{conversation_id}/messages",
            json={"text": "checking the logs", "note": True},
            headers=client.alice.bearer,
        )
        status = next_pushed(socket, "conversation")
        assert status["event"] == {"type": "status", "status": "waiting", "owner_id": None}
        note = next_pushed(socket, "conversation")
        assert note["event"]["message"]["role"] == "note"
        assert note["conversation_id"] == conversation_id


# ------------------------------------------------------------------ pages and helpers


def test_console_page_is_inert_and_carries_the_csp(client):
    sign_in(client, "alice@example.com")
    page = client.get("/console")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    body = page.text
    assert "style=" not in body
    scripts = re.findall(r"<script[^>]*>", body)
    assert scripts == [
        '<script src="/static/console-api.js" defer>',
        '<script src="/static/markdown.js" defer>',
        '<script src="/static/console.js" defer>',
        '<script src="/static/canned.js" defer>',
        '<script src="/static/attachments.js" defer>',
        '<script src="/static/presence.js" defer>',
        '<script src="/static/shortcuts.js" defer>',
        '<script src="/static/teams.js" defer>',
        '<script src="/static/insight.js" defer>',
    ]


def test_users_lists_every_cme_for_transfers(client):
    sign_in(client, "alice@example.com")
    users = client.get("/api/cme/users").json()["users"]
    assert [(user["name"], user["email"]) for user in users] == [
        ("Alice", "alice@example.com"),
        ("Bob", "bob@example.com"),
    ]


def test_canned_replies_match_titles_and_carry_opening_and_link(client):
    response = client.get("/api/cme/articles?q=reset PASSWORD", headers=client.alice.bearer)
    [article] = response.json()["articles"]
    assert article["title"] == "How do I reset my password?"
    assert article["passage"].startswith("Select **Forgot password?**")
    assert article["url"].endswith("/kb/account/reset-password")
    everything = client.get("/api/cme/articles", headers=client.alice.bearer).json()["articles"]
    assert len(everything) == 4


def test_suggestions_search_the_latest_customer_message(client):
    conversation_id, headers = start_conversation(client)
    say(client, conversation_id, headers, "How do I export my data as CSV?")
    response = client.get(
        f"/api/cme/conversations/{conversation_id}/suggestions", headers=client.alice.bearer
    )
    body = response.json()
    assert body["query"] == "How do I export my data as CSV?"
    assert body["articles"][0]["article_id"] == "data/export"
    assert body["articles"][0]["passage"]


def test_internal_note_never_reaches_the_customer(client):
    conversation_id, headers = start_conversation(client)
    client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
    note = client.post(
        f"/api/cme/conversations/{conversation_id}/messages",
        json={"text": "customer is on the legacy plan", "note": True},
        headers=client.alice.bearer,
    )
    assert note.status_code == 200, note.text
    seen = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers).json()
    assert all("legacy plan" not in message["text"] for message in seen["messages"])
    packet = client.get(
        f"/api/cme/conversations/{conversation_id}", headers=client.alice.bearer
    ).json()
    assert packet["transcript"][-1]["role"] == "note"
