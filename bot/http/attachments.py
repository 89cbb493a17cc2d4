"""Attachments over HTTP: a customer (conversation token) or the owning CME uploads a file to a
conversation; its participants download it, served inert (`nosniff`, `default-src 'none'`,
downloaded unless it is a sniffed raster image)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response

from bot.cme.auth import console_secret
from bot.conversation.attachments import attach, read_file
from bot.http.deps import BotDep, ConversationId, LimitsDep, TokenDep, UserDep, authorized
from bot.http.errors import documented_errors
from bot.runtime import Bot
from bot.schemas import MAX_DB_INT, MessageOut
from bot.storage import Forbidden, NotFound, store
from bot.storage import attachments as files

router = APIRouter(
    responses=documented_errors(400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503, 507)
)

AttachmentId = Annotated[
    str,
    Path(
        pattern=files.ATTACHMENT_ID_PATTERN,
        min_length=32,
        max_length=32,
        description="The attachment's id",
    ),
]
UploadedFile = Annotated[
    UploadFile, File(description="The file; its type is sniffed from its bytes, not its name")
]
# Nothing in a served file may run or load anything, whatever a browser thinks it is.
INERT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Cross-Origin-Resource-Policy": "same-site",
}
DOWNLOAD = {200: {"description": "The file's bytes", "content": {"application/octet-stream": {}}}}


async def _read(bot: Bot, upload: UploadFile) -> bytes:
    """The uploaded bytes, reading at most one byte past the limit (so oversize is known)."""
    try:
        return await upload.read(bot.settings.attachment_max_bytes + 1)
    finally:
        await upload.close()


def _served(bot: Bot, conversation_id: str | None, attachment_id: str) -> Response:
    with bot.db.read() as session:
        attachment = files.get_attachment(
            session, conversation_id=conversation_id, attachment_id=attachment_id
        )
    found = read_file(bot, attachment)
    if found is None:  # erased meanwhile
        raise NotFound("no such attachment in this conversation")
    disposition = "inline" if attachment.content_type in files.INLINE_TYPES else "attachment"
    if isinstance(found, bytes):  # from a bucket: the same headers FileResponse would send
        quoted = quote(attachment.name)
        named = f"filename*=utf-8''{quoted}"
        if quoted == attachment.name:
            named = f'filename="{quoted}"'
        return Response(
            found,
            media_type=attachment.content_type,
            headers={**INERT_HEADERS, "Content-Disposition": f"{disposition}; {named}"},
        )
    return FileResponse(
        found,
        media_type=attachment.content_type,
        filename=attachment.name,
        content_disposition_type=disposition,
        headers=INERT_HEADERS,
    )


@router.post(
    "/api/conversations/{conversation_id}/attachments",
    status_code=201,
    response_model=MessageOut,
    tags=["customer"],
)
async def customer_upload(
    conversation_id: ConversationId,
    file: UploadedFile,
    bot: BotDep,
    token: TokenDep,
    limits: LimitsDep,
) -> MessageOut:
    """Send a file (ATTACHMENT_TYPES, at most ATTACHMENT_MAX_BYTES) as a customer message; the
    bot does not answer it. 413 if too large, 415 if its type may not be attached."""
    await authorized(bot, conversation_id, token)
    limits.message(conversation_id)
    data = await _read(bot, file)
    message = await attach(bot, conversation_id=conversation_id, name=file.filename, data=data)
    return MessageOut.of(message)


@router.get(
    "/api/conversations/{conversation_id}/attachments/{attachment_id}",
    response_class=FileResponse,
    responses=DOWNLOAD,
    tags=["customer"],
)
async def customer_download(
    conversation_id: ConversationId, attachment_id: AttachmentId, bot: BotDep, token: TokenDep
) -> FileResponse:
    """Download a file of this conversation (its token only)."""

    def serve() -> FileResponse:
        with bot.db.read() as session:
            store.authorize(session, conversation_id=conversation_id, token=token)
        return _served(bot, conversation_id, attachment_id)

    return await run_in_threadpool(serve)


@router.post(
    "/api/cme/conversations/{conversation_id}/attachments",
    status_code=201,
    response_model=MessageOut,
    tags=["cme"],
)
async def cme_upload(
    conversation_id: ConversationId, file: UploadedFile, bot: BotDep, user: UserDep
) -> MessageOut:
    """Send a file to the customer; only the CME who owns the conversation (409 otherwise)."""
    data = await _read(bot, file)
    message = await attach(
        bot, conversation_id=conversation_id, name=file.filename, data=data, user=user
    )
    return MessageOut.of(message, author=user.name)


@router.get(
    "/api/cme/conversations/{conversation_id}/attachments/{attachment_id}",
    response_class=FileResponse,
    responses=DOWNLOAD,
    tags=["cme"],
)
async def cme_download(
    conversation_id: ConversationId, attachment_id: AttachmentId, bot: BotDep, user: UserDep
) -> FileResponse:
    """Download a file of any conversation (CMEs only)."""
    return await run_in_threadpool(_served, bot, conversation_id, attachment_id)


@router.get(
    "/api/attachments/{attachment_id}",
    response_class=FileResponse,
    responses=DOWNLOAD,
    tags=["customer"],
)
async def shared_download(
    attachment_id: AttachmentId,
    bot: BotDep,
    expires: Annotated[int, Query(ge=0, le=MAX_DB_INT, description="Unix seconds")],
    signature: Annotated[str, Query(pattern=files.SIGNATURE_PATTERN, min_length=64, max_length=64)],
) -> FileResponse:
    """Download a file through a signed link, as posted to a Slack customer (who has no
    conversation token); 403 once expired or if the signature is wrong."""
    secret = console_secret(bot.settings)
    if not files.link_valid(secret, attachment_id, expires, signature, bot.clock()):
        raise Forbidden("this link is wrong or has expired")
    return await run_in_threadpool(_served, bot, None, attachment_id)
