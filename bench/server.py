"""A server for the bench: one it starts (`supportbot serve` in a child process, rate limits off,
its own data folder) or one already running at `--url`."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent


class BenchError(Exception):
    """The bench could not start or reach the server."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class BenchServer:
    """Where the bench sends traffic, and how it reads the server's own figures."""

    url: str
    admin_token: str = ""
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def origin(self) -> str:
        return self.url.rstrip("/")

    @classmethod
    def start(
        cls, *, data_dir: Path, overrides: dict[str, str], log_path: Path, timeout: float = 600
    ) -> BenchServer:
        """Run `supportbot serve` on a free port with `overrides` as SUPPORTBOT_* settings."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        token = secrets.token_urlsafe(32)
        env = {
            **os.environ,
            "SUPPORTBOT_HOST": "127.0.0.1",
            "SUPPORTBOT_PORT": str(port),
            "SUPPORTBOT_PUBLIC_URL": url,
            "SUPPORTBOT_ALLOWED_ORIGINS": url,
            "SUPPORTBOT_DATA_DIR": str(data_dir),
            "SUPPORTBOT_ADMIN_TOKEN": token,
            "SUPPORTBOT_ADMIN_REQUESTS_PER_MINUTE": "10000",
            "SUPPORTBOT_RATE_LIMIT_ENABLED": "false",
            "SUPPORTBOT_SOCKET_MAX_PER_ADDRESS": "100000",
            "SUPPORTBOT_LOG_LEVEL": "WARNING",
            **overrides,
        }
        # The child imports this checkout, wherever the bench was started from.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve"],
                env=env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = cls(url=url, admin_token=token, process=process, log_path=log_path, env=env)
        try:
            server.wait_ready(timeout)
        except BaseException:
            server.stop()
            raise
        return server

    def wait_ready(self, timeout: float) -> None:
        """Block until /readyz says ready (or the child died, or `timeout` passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BenchError(f"the server exited with {self.process.returncode}: {self.tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise BenchError(f"the server at {self.url} was not ready within {timeout:.0f}s")

    def admin(self, path: str) -> dict[str, Any] | None:
        """GET an admin endpoint; None without a token or when the server has no such route."""
        if not self.admin_token:
            return None
        response = httpx.get(
            f"{self.url}/api/admin/{path}",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        return response.json() if response.status_code == 200 else None

    def wait_for_model(self, base_model: str, timeout: float) -> str | None:
        """With KB adaptation on, wait until the adapted model serves retrieval; its id."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.admin("kb")
            if status is None:
                return None
            if status["model"] != base_model or time.monotonic() >= deadline:
                return str(status["model"])
            time.sleep(2)

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds the server process has used so far (Linux)."""
        if self.pid is None:
            return None
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss_mb(self) -> float | None:
        """The server process's resident memory in MiB (Linux)."""
        if self.pid is None:
            return None
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def tail(self, lines: int = 20) -> str:
        """The end of the server's log, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the child server, if the bench started one."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
