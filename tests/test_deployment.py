"""docker-compose.yml: the services of a deployment of several instances, each with the
environment it needs; `docker compose config` validates it where docker has compose."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from bot.settings import Settings
from tests.utils import REPO

SECRETS = {
    "POSTGRES_PASSWORD": "a-test-password",
    "SUPPORTBOT_SECRET_KEY": "a-shared-console-key-of-at-least-32-bytes",
}


def services() -> dict[str, dict]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]


def test_two_instances_a_worker_and_a_proxy_share_postgres_and_redis():
    found = services()
    assert {"postgres", "redis", "worker", "app1", "app2", "proxy"} <= set(found)
    for name in ("worker", "app1", "app2"):
        environment = found[name]["environment"]
        assert environment["SUPPORTBOT_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert environment["SUPPORTBOT_REDIS_URL"] == "redis://redis:6379/0"
        assert "data:/data" in found[name]["volumes"]  # the shared index folder
    assert found["worker"]["command"] == ["supportbot", "worker"]
    for name in ("app1", "app2"):
        assert found[name]["command"] == ["supportbot", "serve"]
        assert found[name]["environment"]["SUPPORTBOT_BACKGROUND"] == "worker"
    caddyfile = (REPO / "deploy" / "Caddyfile").read_text()
    assert "app1:8000 app2:8000" in caddyfile


def test_every_supportbot_variable_in_the_compose_file_is_a_setting():
    names = {f"SUPPORTBOT_{name.upper()}" for name in Settings.model_fields}
    for service in services().values():
        for variable in service.get("environment", {}):
            if variable.startswith("SUPPORTBOT_"):
                assert variable in names, variable


def _compose() -> list[str] | None:
    """`docker compose` (the plugin), else the standalone `docker-compose`, else None."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def test_docker_compose_accepts_the_file():
    compose = _compose()
    if compose is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    checked = subprocess.run(
        [*compose, "-f", str(REPO / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={**os.environ, **SECRETS},
        cwd=REPO,
    )
    assert checked.returncode == 0, checked.stderr
