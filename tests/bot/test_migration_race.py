"""Instances started at once on an empty PostgreSQL database all become ready: migrations take
an advisory lock, so one migrates and the others find the schema at head."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import inspect, text

from bot.storage import Database
from tests.instances import free_port, postgres_schema
from tests.utils import REPO, write_kb

SERVER = """
import sys
import uvicorn
from app import create_app
from bot.settings import Settings
from embedding import FakeEmbedder

url, data_dir, kb_dir, port = sys.argv[1:5]
settings = Settings(
    _env_file=None, database_url=url, data_dir=data_dir, kb_dir=kb_dir, kb_watch=False,
    embed_batch_wait_ms=0,
)
uvicorn.run(create_app(settings, embedder=FakeEmbedder()), host="127.0.0.1", port=int(port),
            log_level="warning")
"""
INSTANCES = 3


def test_concurrent_migrations_of_an_empty_schema_all_succeed_once(postgres_url):
    with postgres_schema(postgres_url) as url:
        databases = [Database(url) for _ in range(6)]
        try:
            with ThreadPoolExecutor(len(databases)) as pool:
                list(pool.map(lambda database: database.migrate(), databases))
            with databases[0].engine.connect() as connection:
                versions = connection.execute(text("SELECT version_num FROM alembic_version"))
                assert len(versions.all()) == 1
                assert "conversations" in inspect(connection).get_table_names()
        finally:
            for database in databases:
                database.dispose()


def test_three_instances_started_at_once_on_an_empty_database_all_become_ready(
    tmp_path, postgres_url
):
    write_kb(tmp_path / "kb")
    with postgres_schema(postgres_url) as url:
        ports = [free_port() for _ in range(INSTANCES)]
        servers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    SERVER,
                    url,
                    str(tmp_path / f"data{n}"),
                    str(tmp_path / "kb"),
                    str(port),
                ],
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)},
                stderr=subprocess.PIPE,
            )  # fmt: skip
            for n, port in enumerate(ports)
        ]
        try:
            for server, port in zip(servers, ports, strict=True):
                wait_ready(server, f"http://127.0.0.1:{port}")
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(30)


def wait_ready(server: subprocess.Popen, url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"an instance exited during start-up:\n{server.stderr.read().decode()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} was not ready in {timeout} s")
