"""The `supportbot` command's small promises (issue 14, finding 11)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import app
from bot import cli
from tests.utils import REPO


@pytest.fixture
def environment(tmp_path, monkeypatch):
    """A clean SUPPORTBOT_* environment with its data in tmp_path, run from tmp_path."""
    for name in list(os.environ):
        if name.startswith("SUPPORTBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SUPPORTBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_user_add_without_password_or_terminal_says_what_is_needed(environment):
    # A new session has no controlling terminal, so nothing can be prompted for.
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "user", "add", "--email", "sam@example.com"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "--password" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def served(monkeypatch):
    """Run `serve` without building the app or starting uvicorn; records what would be served."""
    calls: dict[str, object] = {}

    def fake_create_app(settings):
        calls["settings"] = settings
        return object()

    def fake_run(_app, **kwargs):
        calls.update(kwargs)

    import uvicorn

    def fake_seed(settings):
        calls["seeded"] = True

    monkeypatch.setattr(app, "create_app", fake_create_app)
    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr(cli, "seed_empty_demo", fake_seed)  # tests/cme/test_demo_seed.py seeds
    return calls


def test_demo_banner_links_to_the_port_the_server_is_on(environment, served, capsys):
    assert cli.main(["serve", "--demo", "--port", "8123"]) == 0
    banner = capsys.readouterr().err
    assert served["port"] == 8123
    assert "http://127.0.0.1:8123/console/login" in banner
    assert served["settings"].public_url == "http://127.0.0.1:8123"
    assert served["seeded"]


def test_demo_seeding_skips_a_database_with_conversations(environment):
    from bot.storage import Database, store

    settings = cli.load_settings()
    database = Database(settings.database_url)
    database.migrate()
    with database.write() as session:
        store.create_conversation(session)
    database.dispose()
    assert cli.seed_empty_demo(settings) is None  # returns before loading any model


def test_demo_banner_uses_an_explicit_public_url(environment, served, capsys, monkeypatch):
    monkeypatch.setenv("SUPPORTBOT_PUBLIC_URL", "https://support.example.com")
    assert cli.main(["serve", "--demo", "--port", "8123"]) == 0
    assert "https://support.example.com/console/login" in capsys.readouterr().err


def test_serve_with_a_short_admin_token_stops_with_a_message_that_hides_it(
    environment, served, capsys, monkeypatch
):
    monkeypatch.setenv("SUPPORTBOT_ADMIN_TOKEN", "hunter2-short")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve"])
    error = capsys.readouterr().err
    assert stopped.value.code == 2 and "settings" not in served
    assert "SUPPORTBOT_ADMIN_TOKEN" in error and "32 characters" in error
    assert "hunter2" not in error


def test_serve_with_an_empty_key_file_stops_with_a_message(environment, capsys, monkeypatch):
    from bot.cme.auth import console_secret

    (environment / "data").mkdir()
    (environment / "data" / "console_secret").write_text("")
    # create_app reads the key before anything slow: the model is never loaded here.
    monkeypatch.setattr(app, "create_app", lambda settings: console_secret(settings))
    assert cli.main(["serve"]) == 2
    error = capsys.readouterr().err
    assert "console_secret" in error and "Traceback" not in error
