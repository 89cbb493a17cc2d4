"""The OpenAPI document describes the API as it answers (issue 14, finding 10): every status the
server returns is documented for its operation, and the body matches the documented schema."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.utils import ADMIN_TOKEN, make_client, make_cmes, make_settings, say, start_conversation


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, rate_limit_conversations_per_hour=3)
    with make_client(settings, fake_embedder) as client:
        yield client


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
    return schema


def problems(spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str = "") -> list:
    """Where `value` breaks `schema` (the subset of JSON Schema FastAPI emits)."""
    schema = resolve(spec, schema)
    if "anyOf" in schema:
        options = [problems(spec, option, value, where) for option in schema["anyOf"]]
        return [] if any(not found for found in options) else [f"{where}: matches no anyOf"]
    kind = schema.get("type")
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
        "null": lambda v: v is None,
    }
    if kind and not checks[kind](value):
        return [f"{where}: {value!r} is not {kind}"]
    found = []
    if kind == "array":
        for i, item in enumerate(value):
            found += problems(spec, schema.get("items", {}), item, f"{where}[{i}]")
    if kind == "object" or "properties" in schema:
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{where}.{name}: required but missing")
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                found += problems(spec, sub, value[name], f"{where}.{name}")
    return found


def operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, operations in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return operations[method.lower()]
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def conforms(client, response) -> None:
    """The response's status is documented for its operation and its body fits the schema."""
    spec = client.app.openapi()
    request = response.request
    op = operation(spec, request.method, request.url.path)
    status = str(response.status_code)
    assert status in op["responses"], f"{request.method} {request.url.path} answers {status}"
    content = op["responses"][status].get("content", {}).get("application/json")
    if content is not None:
        assert problems(spec, content["schema"], response.json()) == [], response.text


def test_customer_api_errors_are_documented_as_answered(client):
    conversation_id, headers = start_conversation(client)
    url = f"/api/conversations/{conversation_id}"
    turn = say(client, conversation_id, headers, "How do I export my data?").json()
    answers = [
        say(client, conversation_id, {}, "hi"),  # 401
        say(client, conversation_id, {"Authorization": "Bearer wrong"}, "hi"),  # 403
        say(client, "0" * 32, headers, "hi"),  # 404
        say(client, conversation_id, headers, "   "),  # 422
        client.post(
            f"{url}/messages",
            content=b'{"text": "x' + b"x" * 70_000 + b'"}',
            headers={**headers, "Content-Type": "application/json"},
        ),  # 413
        client.post(
            f"{url}/feedback",
            json={"seq": turn["message"]["seq"], "helpful": True},
            headers=headers,
        ),  # 409
        client.get(f"{url}/messages?after=-1", headers=headers),  # 422
    ]
    answers += [client.post("/api/conversations") for _ in range(4)]  # 201 ... 429
    answers.append(
        client.post("/api/conversations", json={"customer": {"id": "1", "signature": "0" * 64}})
    )  # 403 (signatures are off on this server)
    assert {a.status_code for a in answers} >= {401, 403, 404, 409, 413, 422, 429}
    for answer in answers:
        conforms(client, answer)


def test_cme_and_admin_errors_are_documented_as_answered(client):
    with client.app.state.bot.db.write() as session:
        [(_, token)] = make_cmes(session, 1)
    cme = {"Authorization": f"Bearer {token}"}
    answers = [
        client.get("/api/cme/me"),  # 401
        client.get("/api/cme/me", headers={"Authorization": "Bearer unknown"}),  # 401
        client.post(f"/api/cme/conversations/{'0' * 32}/claim", headers=cme),  # 404
        client.post(
            f"/api/cme/conversations/{'0' * 32}/transfer", json={"to_user_id": 0}, headers=cme
        ),  # 422
        client.post("/api/admin/kb/reload", headers={"Authorization": "Bearer " + "x" * 40}),
    ]
    answers += [
        client.post("/api/admin/kb/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        for _ in range(12)
    ]  # 200 ... 429
    assert {a.status_code for a in answers} >= {200, 401, 404, 422, 429}
    for answer in answers:
        conforms(client, answer)


def test_each_kind_of_bearer_token_has_its_own_security_scheme(client):
    spec = client.app.openapi()
    schemes = spec["components"]["securitySchemes"]
    assert len(schemes) == 3
    assert all(
        scheme["type"] == "http" and scheme["scheme"] == "bearer" for scheme in schemes.values()
    )

    def scheme_of(method: str, path: str) -> str:
        [requirement] = operation(spec, method, path)["security"]
        [name] = requirement
        return name

    customer = scheme_of("POST", "/api/conversations/c/messages")
    cme = scheme_of("GET", "/api/cme/queue")
    admin = scheme_of("POST", "/api/admin/kb/reload")
    assert len({customer, cme, admin}) == 3
    assert "conversation" in schemes[customer]["description"].lower()
    assert "cme" in schemes[cme]["description"].lower()
    assert "admin" in schemes[admin]["description"].lower()


def test_message_text_and_client_msg_id_rules_match_the_server(client):
    spec = client.app.openapi()
    message_in = resolve(spec, {"$ref": "#/components/schemas/MessageIn"})["properties"]
    text_pattern = message_in["text"]["pattern"]
    [msg_id] = [s for s in message_in["client_msg_id"]["anyOf"] if s.get("type") == "string"]
    conversation_id, headers = start_conversation(client)
    for text in ("   ", "hi"):
        # JSON Schema patterns are unanchored and ECMA-262: \w and \s as in Python's re.ASCII.
        documented = re.search(text_pattern, text, re.ASCII) is not None
        answered = say(client, conversation_id, headers, text).status_code
        assert documented == (answered == 200), (text, answered)
    for client_msg_id in ("m-1", "é-1"):
        documented = re.search(msg_id["pattern"], client_msg_id, re.ASCII) is not None
        answered = say(client, conversation_id, headers, "hi", client_msg_id=client_msg_id)
        assert documented == (answered.status_code == 200), (client_msg_id, answered.text)


def test_kb_page_errors_are_documented_with_the_json_they_send(client):
    response = client.get("/kb/no-such-article")
    assert response.status_code == 404
    documented = operation(client.app.openapi(), "GET", "/kb/x")["responses"]["404"]["content"]
    assert response.headers["content-type"].split(";")[0] in documented
    assert list(documented) == ["application/json"]
    conforms(client, response)


def test_readiness_probe_documents_its_503(client):
    bot = client.app.state.bot
    bot.model_ready = False
    try:
        response = client.get("/readyz")
    finally:
        bot.model_ready = True
    assert response.status_code == 503
    assert response.json()["ready"] is False
    conforms(client, response)


def test_customer_id_schema_forbids_the_control_characters_the_server_refuses(client):
    customer = client.app.openapi()["components"]["schemas"]["CustomerIn"]
    [string] = [s for s in customer["properties"]["id"]["anyOf"] if s.get("type") == "string"]
    pattern = string["pattern"]
    assert re.search(pattern, "cust-1 é")
    assert not re.search(pattern, "cust\x86")
    response = client.post("/api/conversations", json={"customer": {"id": "cust\x86"}})
    assert response.status_code == 422
