"""Files a Slack customer shares in their DM or thread become attachments of their conversation
(and so do files the owning CME shares in the escalation's thread, sent to the customer):
fetched from the file's `url_private` with the bot token (which needs the `files:read` scope),
then checked, stored and announced exactly like a widget upload (size and type limits, type by
sniffing). A file that cannot be taken gets a polite reply in the thread, through the outbox.

The bot token goes only to Slack's own file hosts (`*.slack.com`, or the configured Web API's
host), never to a URL elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack.blocks import escape
from bot.channels.slack.outbox import MESSAGE, Outbox, error_name
from bot.channels.slack.routing import split_address
from bot.conversation.attachments import attach
from bot.runtime import Bot
from bot.storage import Conflict, User
from bot.storage.attachments import (
    AttachmentQuotaFull,
    AttachmentRefused,
    AttachmentTooLarge,
    AttachmentTypeRefused,
    clean_name,
)
from bot.storage.filestore import FileStoreError
from escalation import HandoffConflict

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 60
KINDS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "application/pdf": "PDF",
    "text/plain": "plain text",
}


class FileNotFetched(Exception):
    """Slack would not hand the file over (no URL, not ours to fetch, an error)."""


@dataclass(frozen=True)
class Refusal:
    name: str
    reason: str


NOT_FETCHED = "I couldn't fetch it from Slack; please send it again"


def _size(size: int) -> str:
    """A size as people read it: "10 MB", "1.5 MB", "500 KB"."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f}".removesuffix(".0") + " MB"
    return f"{max(size // 1000, 1)} KB"


class FileImporter:
    """Fetch shared files and attach them to the customer's conversation."""

    def __init__(self, bot: Bot, client: AsyncWebClient, outbox: Outbox) -> None:
        self.bot = bot
        self.client = client
        self.outbox = outbox
        api = urlsplit(bot.settings.slack_api_url)
        self._api_host = (api.hostname or "").lower()

    async def import_files(
        self,
        *,
        conversation_id: str,
        address: str,
        message_key: str,
        files: list[dict[str, Any]],
        user: User | None = None,
    ) -> int:
        """Attach each shared file (in order) from the customer, or from `user`, the CME who
        owns the conversation; refusals are explained in one reply in the thread at `address`.
        Returns the number attached. `message_key` names the Slack message: a retried event
        attaches no file twice."""
        refusals: list[Refusal] = []
        attached = 0
        for index, shared in enumerate(files):
            if not isinstance(shared, dict):
                continue
            try:
                shared = await self._described(shared)
            except FileNotFetched as exc:
                log.warning("slack file %s not described: %s", shared.get("id"), exc)
            name = clean_name(str(shared.get("name") or shared.get("title") or "file"))
            try:
                data = await self._fetch(shared)
                await attach(
                    self.bot,
                    conversation_id=conversation_id,
                    name=name,
                    data=data,
                    client_msg_id=f"slack-file:{message_key}:{shared.get('id') or index}"[:100],
                    user=user,
                )
                attached += 1
            except AttachmentRefused as exc:
                refusals.append(Refusal(name, self._reason(exc)))
            except FileNotFetched as exc:
                log.warning("slack file %s not fetched: %s", shared.get("id"), exc)
                refusals.append(Refusal(name, NOT_FETCHED))
            except Conflict:
                refusals.append(Refusal(name, "this conversation was closed meanwhile"))
            except HandoffConflict as exc:
                refusals.append(Refusal(name, str(exc)))
            except FileStoreError as exc:
                log.error("slack file %s not stored: %s", shared.get("id"), exc)
                refusals.append(Refusal(name, "I couldn't store it just now; please try again"))
        if refusals:
            await asyncio.to_thread(self._reply, conversation_id, address, refusals)
        return attached

    def _reason(self, exc: AttachmentRefused) -> str:
        settings = self.bot.settings
        if isinstance(exc, AttachmentTooLarge):
            return f"it is larger than the {_size(settings.attachment_max_bytes)} limit"
        if isinstance(exc, AttachmentTypeRefused):
            kinds = [KINDS.get(kind, kind) for kind in settings.attachment_types]
            return f"I can only take {', '.join(kinds)} files"
        if isinstance(exc, AttachmentQuotaFull):
            return "our file storage is full just now; please describe the problem in words"
        return "the file is empty"

    async def _described(self, shared: dict[str, Any]) -> dict[str, Any]:
        """The file as files.info describes it, when the event left it out (an event says
        `"file_access": "check_file_info"` for files shared before the app could see them)."""
        if shared.get("url_private") or not shared.get("id"):
            return shared
        try:
            info = await self.client.files_info(file=str(shared["id"]))
        except SlackApiError as exc:
            raise FileNotFetched(f"files.info: {error_name(exc)}") from exc
        file = info.get("file")
        return {**shared, **file} if isinstance(file, dict) else shared

    async def _fetch(self, shared: dict[str, Any]) -> bytes:
        """The file's bytes, at most one byte past the size limit (so oversize is known)."""
        limit = self.bot.settings.attachment_max_bytes
        declared = shared.get("size")
        if isinstance(declared, int) and declared > limit:
            raise AttachmentTooLarge(f"the file is {declared} bytes; the limit is {limit}")
        url = shared.get("url_private_download") or shared.get("url_private")
        if not isinstance(url, str) or not self._slack_host(url):
            raise FileNotFetched(f"no Slack URL to fetch ({url!r})")
        headers = {"Authorization": f"Bearer {self.bot.settings.slack_bot_token}"}
        timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_S)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, headers=headers, allow_redirects=False) as response,
            ):
                if response.status != 200:
                    raise FileNotFetched(f"HTTP {response.status}")
                if response.content_type == "text/html":  # Slack's sign-in page: no access
                    raise FileNotFetched("Slack answered with a page, not the file")
                data = await response.content.read(limit + 1)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise FileNotFetched(str(exc) or type(exc).__name__) from exc
        return data

    def _slack_host(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme == "https" and (host == "slack.com" or host.endswith(".slack.com")):
            return True
        return bool(host) and host == self._api_host  # a self-hosted or test Web API

    def _reply(self, conversation_id: str, address: str, refusals: list[Refusal]) -> None:
        lines = [f"Sorry, I couldn't take *{escape(r.name)}*: {r.reason}." for r in refusals]
        channel, thread_ts = split_address(address)
        payload: dict[str, Any] = {"channel": channel, "text": "\n".join(lines)}
        if thread_ts:
            payload["thread_ts"] = thread_ts
        with self.bot.db.write() as session:
            self.outbox.enqueue(
                session,
                thread_key=address,
                kind=MESSAGE,
                method="chat.postMessage",
                payload=payload,
                conversation_id=conversation_id,
            )
