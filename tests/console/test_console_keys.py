"""The console's cookie-signing key and the admin token: independent, long enough, stored
atomically; and the admin API throttled (issue 14, findings 1 and 2)."""

from __future__ import annotations

import os
import stat

import pytest
from pydantic import ValidationError

from bot.cme.auth import LoginThrottle, Sessions, console_secret
from bot.settings import Settings
from tests.utils import make_client, make_settings

LONG_ADMIN_TOKEN = "a-deployment-admin-token-of-40-characters"
OTHER_ADMIN_TOKEN = "another-admin-token-also-of-40-characters"
SHARED_KEY = "k" * 48


def settings_in(directory, **values) -> Settings:
    return Settings(_env_file=None, data_dir=directory, **values)


def accepts_each_other(first: Settings, second: Settings) -> bool:
    """Whether a session cookie and a sign-in form made by `first` are taken by `second`."""
    issuer = Sessions(console_secret(first), secure=False)
    reader = Sessions(console_secret(second), secure=False)
    _, cookie = issuer.issue(1)
    nonce, form_token = issuer.login_form()
    session_ok = reader.read(cookie) is not None
    form_ok = reader.login_form_valid(nonce, form_token)
    assert session_ok == form_ok
    return session_ok


def test_servers_sharing_only_the_admin_token_refuse_each_others_sessions(tmp_path):
    first = settings_in(tmp_path / "a", admin_token=LONG_ADMIN_TOKEN)
    second = settings_in(tmp_path / "b", admin_token=LONG_ADMIN_TOKEN)
    assert not accepts_each_other(first, second)


def test_instances_sharing_the_secret_key_accept_each_others_sessions(tmp_path):
    first = settings_in(tmp_path / "a", admin_token=LONG_ADMIN_TOKEN, secret_key=SHARED_KEY)
    second = settings_in(tmp_path / "b", admin_token=OTHER_ADMIN_TOKEN, secret_key=SHARED_KEY)
    assert accepts_each_other(first, second)
    assert not accepts_each_other(first, settings_in(tmp_path / "c"))


def test_without_a_secret_key_one_is_generated_and_kept_even_with_an_admin_token(tmp_path):
    settings = settings_in(tmp_path, admin_token=LONG_ADMIN_TOKEN)
    key = console_secret(settings)
    key_file = tmp_path / "console_secret"
    assert len(key) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert console_secret(settings) == key
    assert accepts_each_other(settings, settings_in(tmp_path))


@pytest.mark.parametrize(
    ("name", "value", "minimum"),
    [("secret_key", "s" * 31, "32"), ("admin_token", "t" * 31, "32")],
)
def test_short_secret_key_or_admin_token_is_refused(tmp_path, name, value, minimum):
    with pytest.raises(ValidationError) as refused:
        settings_in(tmp_path, **{name: value})
    assert name in str(refused.value) and minimum in str(refused.value)


def test_admin_api_is_throttled_per_address_even_for_the_right_token(
    tmp_path, database_url, fake_embedder
):
    settings = make_settings(tmp_path, database_url, admin_token=LONG_ADMIN_TOKEN)
    with make_client(settings, fake_embedder) as client:
        wrong = {"Authorization": "Bearer " + "x" * 40}
        statuses = [
            client.post("/api/admin/kb/reload", headers=wrong).status_code for _ in range(30)
        ]
        assert 401 in statuses
        assert statuses[-1] == 429
        right = {"Authorization": f"Bearer {LONG_ADMIN_TOKEN}"}
        throttled = client.post("/api/admin/kb/reload", headers=right)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1


@pytest.mark.parametrize("contents", ["", "\n", "0123abcd", "not hex at all"])
def test_empty_or_short_key_file_is_refused(tmp_path, contents):
    (tmp_path / "console_secret").write_text(contents)
    with pytest.raises(Exception) as refused:  # noqa: B017 - the type is checked below
        console_secret(settings_in(tmp_path))
    assert "console_secret" in str(refused.value) and "32" in str(refused.value)
    assert type(refused.value).__name__ == "SecretKeyError"


def test_a_crash_while_writing_the_key_leaves_no_key_file(tmp_path, monkeypatch):
    def crash(fd: int) -> None:
        raise OSError("disk full")

    settings = settings_in(tmp_path)
    with monkeypatch.context() as patched:
        patched.setattr(os, "fsync", crash)
        with pytest.raises(OSError):
            console_secret(settings)
    assert sorted(path.name for path in tmp_path.iterdir()) == []
    assert len(console_secret(settings)) >= 32


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failed_sign_ins_from_one_address_do_not_lock_the_cme_out_elsewhere():
    throttle = LoginThrottle(clock=Clock())
    for _ in range(10):
        throttle.failed(email="alice@example.com", address="203.0.113.9")
    assert throttle.retry_after(email="alice@example.com", address="203.0.113.9") > 0
    assert throttle.retry_after(email="alice@example.com", address="198.51.100.7") == 0


def test_repeated_failed_sign_ins_back_off_longer_each_time_instead_of_locking():
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    waits = []
    for _ in range(5):
        throttle.failed(email="alice@example.com", address="203.0.113.9")
    for _ in range(4):
        wait = throttle.retry_after(email="alice@example.com", address="203.0.113.9")
        waits.append(wait)
        clock.now += wait
        assert throttle.retry_after(email="alice@example.com", address="203.0.113.9") == 0
        throttle.failed(email="alice@example.com", address="203.0.113.9")
    assert waits == sorted(waits) and waits[0] < waits[-1] < 300
