"""Small helpers for building apps and conversations in tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app import create_app
from bot.settings import Settings
from embedding import Embedder

REPO = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "test-admin-token-of-at-least-32-characters"

MINI_KB = {
    "account/reset-password.md": """---
title: How do I reset my password?
tags: [account, login]
---
# Reset your password

## From the sign-in page
Select **Forgot password?** on the sign-in page, enter your email address and follow the link we
send you. The reset link expires after 60 minutes.

## If the email does not arrive
Check your spam folder and make sure you typed the address you signed up with.
""",
    "billing/refunds.md": """---
title: What is the refund policy?
tags: [billing]
escalate: true
---
Annual plans can be refunded within 30 days of purchase. Refunds are handled by our billing team.
""",
    "billing/invoices.md": """---
title: Where can I download my invoices?
tags: [billing, invoices]
---
Open **Settings > Billing > Invoices** to download every invoice as a PDF. Invoices are emailed
to the billing contact when each payment succeeds.
""",
    "data/export.md": """---
title: How do I export my data?
tags: [data, export]
---
Go to **Settings > Data > Export** and choose CSV or JSON. Large exports are emailed to you as a
download link within an hour.
""",
}


def write_kb(directory: Path, articles: dict[str, str] | None = None) -> Path:
    """Write a small knowledge base of markdown articles and return its folder."""
    for name, body in (articles or MINI_KB).items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    return directory


def copy_repo_kb(directory: Path) -> Path:
    """A private copy of the demo `kb_docs/`."""
    shutil.copytree(REPO / "kb_docs", directory)
    return directory


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    """Settings for a test app: its own data dir, no KB watcher unless asked."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": tmp_path / "data",
        "kb_dir": overrides.pop("kb_dir", None) or write_kb(tmp_path / "kb"),
        "kb_watch": False,
        "admin_token": ADMIN_TOKEN,
        "embed_batch_wait_ms": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def make_client(settings: Settings, embedder: Embedder) -> TestClient:
    """A TestClient for a fresh app; use it as a context manager to run start-up."""
    return TestClient(create_app(settings, embedder=embedder), raise_server_exceptions=False)


def start_conversation(client: TestClient, **customer: Any) -> tuple[str, dict[str, str]]:
    """Create a conversation; returns its id and the auth headers for it."""
    body = {"customer": customer} if customer else {}
    response = client.post("/api/conversations", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return data["id"], {"Authorization": f"Bearer {data['token']}"}


def say(client: TestClient, conversation_id: str, headers: dict[str, str], text: str, **extra: Any):
    """Post a customer message and return the response."""
    return client.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"text": text, **extra},
        headers=headers,
    )


def make_cmes(session, count: int, prefix: str = "cme") -> list[tuple[Any, str]]:
    """Insert CMEs without argon2's deliberate cost; returns (user, api_token) pairs."""
    import secrets

    from bot.storage import User
    from bot.storage.store import hash_token

    made = []
    for i in range(count):
        token = secrets.token_urlsafe(32)
        user = User(
            email=f"{prefix}{i}@example.com",
            name=f"{prefix.upper()} {i}",
            password_hash="!unusable",
            api_token_hash=hash_token(token),
        )
        session.add(user)
        made.append((user, token))
    session.flush()
    return made
