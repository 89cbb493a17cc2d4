"""Several real server processes of one deployment (PostgreSQL schema and Redis prefix of their
own), started with `supportbot serve` / `supportbot worker` as an operator would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from sqlalchemy import create_engine, text

from tests.utils import ADMIN_TOKEN, REPO

SECRET_KEY = "a-shared-console-key-of-at-least-32-bytes"
WIDGET_ORIGIN = "http://shop.example"
READY_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Deployment:
    """The shared settings of a deployment; `serve` and `worker` start its processes."""

    database_url: str
    redis_url: str
    redis_prefix: str
    kb_dir: Path
    root: Path
    extra: dict[str, str] = field(default_factory=dict)
    shared_data: bool = False  # one DATA_DIR for every process (with a worker), else one each
    processes: list[subprocess.Popen] = field(default_factory=list)

    def env(self, name: str, **extra: str) -> dict[str, str]:
        data_dir = self.root / ("shared" if self.shared_data else name)
        data_dir.mkdir(parents=True, exist_ok=True)
        settings = {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": self.redis_prefix,
            "KB_DIR": str(self.kb_dir),
            "DATA_DIR": str(data_dir),
            "SECRET_KEY": SECRET_KEY,
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "ALLOWED_ORIGINS": WIDGET_ORIGIN,
            "EMBED_BATCH_WAIT_MS": "0",
            "LOG_LEVEL": "INFO",
            **self.extra,
            **extra,
        }
        return {
            **os.environ,
            "PYTHONPATH": str(REPO),
            **{f"SUPPORTBOT_{k}": v for k, v in settings.items()},
        }

    def start(self, name: str, *args: str, **extra: str) -> subprocess.Popen:
        """Start `supportbot ARGS` as process `name`; its log goes to ROOT/NAME.log."""
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args],
            cwd=REPO,
            env=self.env(name, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append(process)
        return process

    def serve(self, name: str, **extra: str) -> Instance:
        """Start an instance on a free port (not waiting for it to be ready)."""
        port = free_port()
        process = self.start(name, "serve", "--port", str(port), **extra)
        return Instance(name, f"http://127.0.0.1:{port}", process, self.root / f"{name}.log")

    def worker(self, name: str = "worker", **extra: str) -> Instance:
        """Start `supportbot worker` with its health checks on a free port."""
        port = free_port()
        process = self.start(name, "worker", "--port", str(port), **extra)
        return Instance(name, f"http://127.0.0.1:{port}", process, self.root / f"{name}.log")

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@dataclass
class Instance:
    name: str
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def index_version(self) -> str:
        return httpx.get(f"{self.url}/readyz", timeout=10).json()["index_version"]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> Instance:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited during start-up:\n{self.log_path.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} was not ready in {timeout} s")


@contextmanager
def postgres_schema(server: str) -> Iterator[str]:
    """A fresh PostgreSQL schema; yields its URL and drops it after."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{server}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def redis_namespace(server: str) -> Iterator[str]:
    """A Redis prefix of its own; its keys are deleted after."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(server)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
