"""Files sent in a conversation: what their bytes are (sniffed, never taken from the name or the
sender's header), the rows, the total quota, and the bytes in a `FileStore` (the folder
DATA_DIR/attachments/<conversation>/<random id>, or an S3-compatible bucket)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta

import filetype
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from bot.storage.filestore import FileStore
from bot.storage.models import Attachment, Message
from bot.storage.store import NotFound, StoreError

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 200
QUOTA_LOCK = "supportbot-attachment-quota"
# Shown in the page (an <img>) rather than downloaded: raster images only, never SVG.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
ATTACHMENT_ID_PATTERN = r"^[0-9a-f]{32}$"
# Markup a browser would run if it ever treated the bytes as a page.
_MARKUP = re.compile(rb"<\s*(?:!doctype|html|head|body|script|iframe|svg|\?xml|!\[cdata)", re.I)
_SVG = re.compile(rb"<\s*svg", re.I)
_TEXT_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class AttachmentRefused(StoreError):
    """The file cannot be attached; `status` is the HTTP answer (400 empty, 413, 415)."""

    status = 400


class AttachmentTooLarge(AttachmentRefused):
    status = 413


class AttachmentTypeRefused(AttachmentRefused):
    status = 415


class AttachmentQuotaFull(AttachmentRefused):
    """All attachments together reached ATTACHMENT_TOTAL_MAX_BYTES."""

    status = 507


def sniff(data: bytes) -> str:
    """The content type the bytes themselves show: a known file signature, else markup (HTML,
    SVG) or plain UTF-8 text, else application/octet-stream."""
    kind = filetype.guess(data)
    if kind is not None:
        return kind.mime
    if _SVG.search(data):
        return "image/svg+xml"
    if _MARKUP.search(data):
        return "text/html"
    if _TEXT_CONTROL.search(data):
        return "application/octet-stream"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def clean_name(name: str | None) -> str:
    """The sender's file name as shown and offered for download: its last path part, without
    control or format characters, at most MAX_NAME_CHARS (the extension kept)."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(name) > MAX_NAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_NAME_CHARS - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_NAME_CHARS]
    return name or "attachment"


def check(data: bytes, *, max_bytes: int, allowed: Iterable[str]) -> str:
    """The sniffed content type of `data`, if it may be attached (else AttachmentRefused)."""
    if len(data) > max_bytes:
        raise AttachmentTooLarge(f"the file is {len(data)} bytes; the limit is {max_bytes}")
    if not data:
        raise AttachmentRefused("the file is empty")
    content_type = sniff(data)
    allowed = set(allowed)
    if content_type not in allowed:
        allowed_list = ", ".join(sorted(allowed))
        raise AttachmentTypeRefused(
            f"files of type {content_type} cannot be attached; allowed: {allowed_list}"
        )
    return content_type


# A link for a customer who has no token to send (a Slack customer): signed, and valid this long.
SHARED_LINK_VALID = timedelta(days=7)
SIGNATURE_PATTERN = r"^[0-9a-f]{64}$"


def link_signature(secret: bytes, attachment_id: str, expires: int) -> str:
    """The HMAC that lets a link fetch one attachment until `expires` (Unix seconds)."""
    message = f"attachment-link:{attachment_id}:{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def shared_path(secret: bytes, attachment: Attachment, now: datetime) -> str:
    """A signed path that fetches `attachment` without credentials until SHARED_LINK_VALID."""
    expires = int((now + SHARED_LINK_VALID).timestamp())
    signature = link_signature(secret, attachment.id, expires)
    return f"/api/attachments/{attachment.id}?expires={expires}&signature={signature}"


def link_valid(
    secret: bytes, attachment_id: str, expires: int, signature: str, now: datetime
) -> bool:
    """Whether a shared link's signature is right and it has not expired."""
    expected = link_signature(secret, attachment_id, expires)
    return hmac.compare_digest(expected, signature) and expires >= now.timestamp()


def check_quota(session: Session, *, size: int, total_max_bytes: int) -> None:
    """Refuse a file of `size` bytes if it would take all attachments past `total_max_bytes`
    (0: no limit). On PostgreSQL, writers of attachments take turns on an advisory lock until
    they commit, so two files cannot both squeeze under the limit (SQLite has one writer)."""
    if not total_max_bytes:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": QUOTA_LOCK})
    used = int(session.scalar(select(func.coalesce(func.sum(Attachment.size), 0))) or 0)
    if used + size > total_max_bytes:
        raise AttachmentQuotaFull(
            f"attachment storage is full ({used} of {total_max_bytes} bytes used; this file "
            f"needs {size}): files cannot be attached until some are removed"
        )


def new_attachment_id() -> str:
    """A fresh, unguessable attachment id (its bytes are stored under it before its row)."""
    return secrets.token_hex(16)


def add_attachment(
    session: Session,
    *,
    attachment_id: str,
    message: Message,
    name: str | None,
    content_type: str,
    size: int,
) -> Attachment:
    """The row of a file of `message` whose bytes (checked) are stored under `attachment_id`."""
    attachment = Attachment(
        id=attachment_id,
        conversation_id=message.conversation_id,
        message_id=message.id,
        name=clean_name(name),
        content_type=content_type,
        size=size,
        created_at=message.created_at,
    )
    message.attachments.append(attachment)
    session.flush()
    return attachment


def get_attachment(
    session: Session, *, conversation_id: str | None, attachment_id: str
) -> Attachment:
    """The attachment `attachment_id` of this conversation, or of any when None (NotFound in
    any other)."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or conversation_id not in (None, attachment.conversation_id):
        raise NotFound("no such attachment in this conversation")
    return attachment


def erase_attachments(
    session: Session, *, files: FileStore, conversation_ids: list[str]
) -> dict[str, int]:
    """Delete these conversations' attachment rows and files; rows removed, by table."""
    if not conversation_ids:
        return {"attachments": 0}
    with_files = set(
        session.scalars(
            select(Attachment.conversation_id).where(
                Attachment.conversation_id.in_(conversation_ids)
            )
        )
    )
    removed = session.execute(
        delete(Attachment).where(Attachment.conversation_id.in_(conversation_ids))
    ).rowcount
    files.delete_conversations(sorted(with_files | set(conversation_ids)))
    return {"attachments": removed}
