"""Files customers and CMEs send in a conversation: each is a message of its sender (its text
the file's name) with one attachment, checked against ATTACHMENT_MAX_BYTES and
ATTACHMENT_TYPES by its sniffed type, stored, and announced like any message.

A customer's file is not a turn: the bot does not answer it, the pipeline's history, the
stranded-turn sweep and summaries skip messages with attachments."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.events import QUEUE_TOPIC, announce_message, queue_event
from bot.runtime import Bot
from bot.storage import Attachment, Conflict, Message, Role, User, store
from bot.storage import attachments as files
from escalation import HandoffConflict, Status


def read_file(bot: Bot, attachment: Attachment) -> Path | bytes | None:
    """An attachment's bytes: a local file, the bytes themselves (from a bucket), or None when
    they are gone."""
    path = bot.files.local_path(attachment.conversation_id, attachment.id)
    return path if path is not None else bot.files.get(attachment.conversation_id, attachment.id)


async def attach(
    bot: Bot,
    *,
    conversation_id: str,
    name: str | None,
    data: bytes,
    user: User | None = None,
    client_msg_id: str | None = None,
) -> Message:
    """Send `data` as a file from the customer (no `user`) or from `user`, the CME who owns
    the conversation; returns the new message with its attachment (AttachmentRefused: 413, 415,
    400, 507; HandoffConflict if the CME does not own it; Conflict once resolved). A file sent
    again under the same `client_msg_id` returns the message stored the first time."""
    content_type = files.check(
        data, max_bytes=bot.settings.attachment_max_bytes, allowed=bot.settings.attachment_types
    )

    attachment_id = files.new_attachment_id()
    repeated: list[Message] = []

    def store_file() -> Message:
        # The bytes go first, outside the transaction (an upload to a bucket holds no lock);
        # the row makes them visible, and without it they go again.
        bot.files.put(conversation_id, attachment_id, data)
        try:
            message = transaction()
        except BaseException:
            bot.files.delete(conversation_id, attachment_id)
            raise
        if repeated:
            bot.files.delete(conversation_id, attachment_id)
        return message

    def transaction() -> Message:
        with bot.db.write() as session:
            conversation = store.get_conversation(
                session, conversation_id=conversation_id, lock=True
            )
            if user is not None and (
                conversation.status != Status.AGENT or conversation.owner_id != user.id
            ):
                raise HandoffConflict("you no longer own this conversation; claim it first")
            if client_msg_id is not None:
                seen = store.find_by_client_msg_id(
                    session, conversation_id=conversation.id, client_msg_id=client_msg_id
                )
                if seen is not None:
                    repeated.append(seen)
                    return seen
            if user is None and conversation.status == Status.RESOLVED:
                raise Conflict("this conversation is resolved; send a message to reopen it")
            message = store.add_message(
                session,
                conversation_id=conversation.id,
                role=Role.CUSTOMER if user is None else Role.AGENT,
                text=files.clean_name(name),
                author_id=user.id if user is not None else None,
                client_msg_id=client_msg_id,
                at=bot.clock(),
            )
            files.check_quota(
                session, size=len(data), total_max_bytes=bot.settings.attachment_total_max_bytes
            )
            files.add_attachment(
                session,
                attachment_id=attachment_id,
                message=message,
                name=name,
                content_type=content_type,
                size=len(data),
            )
            if user is not None:
                bot.message_added(session, conversation, message)
            return message

    message = await asyncio.to_thread(store_file)
    if repeated:  # announced the first time
        return message
    await announce_message(
        bot.bus, conversation_id, message, author=user.name if user is not None else None
    )
    await bot.bus.publish(QUEUE_TOPIC, queue_event("changed", conversation_id))
    return message
