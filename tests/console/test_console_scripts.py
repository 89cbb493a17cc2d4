"""The console's scripts share one JSON API helper (console-api.js), loaded first on every
console page, instead of each file keeping its own copy of fetch-with-CSRF."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.console.conftest import console_app, make_cme, sign_in
from tests.utils import make_settings

STATIC = Path(__file__).resolve().parents[2] / "bot" / "static"
CONSOLE_FILES = [
    "console.js",
    "canned.js",
    "attachments.js",
    "presence.js",
    "shortcuts.js",
    "teams.js",
    "customers.js",
    "accounts.js",
    "insight.js",
]


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    app = console_app(make_settings(tmp_path, database_url), fake_embedder)
    with TestClient(app) as client:
        make_cme(app, email="alice@example.com", name="Alice")
        yield client


@pytest.mark.parametrize("name", CONSOLE_FILES)
def test_console_scripts_call_the_server_only_through_the_shared_helper(name):
    source = (STATIC / name).read_text()
    assert "fetch(" not in source
    assert "X-CSRF-Token" not in source


@pytest.mark.parametrize(
    "path",
    [
        "/console",
        "/console/customers",
        "/console/insight",
        "/console/accounts",
    ],
)
def test_every_console_page_loads_the_api_helper_first(client, path):
    sign_in(client, "alice@example.com")
    page = client.get(path)
    assert page.status_code == 200
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts[0] == "/static/console-api.js"
    assert client.get("/static/console-api.js").status_code == 200
