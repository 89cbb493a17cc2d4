"""The REST API's JSON shapes (fields may be added, never renamed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from bot.storage.models import Message

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
CustomerRole = Literal["customer", "bot", "agent", "system"]
StatusName = Literal["bot", "waiting", "agent", "resolved"]


class Citation(BaseModel):
    article_id: str
    title: str
    section: str
    url: str


class MessageOut(BaseModel):
    seq: int
    role: CustomerRole
    text: str
    created_at: datetime
    citations: list[Citation] = []
    confidence: float | None = None
    client_msg_id: str | None = None

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        return cls(
            seq=message.seq,
            role=message.role,  # type: ignore[arg-type]
            text=message.text,
            created_at=message.created_at,
            citations=[Citation(**c) for c in message.citations or []],
            confidence=message.confidence,
            client_msg_id=message.client_msg_id,
        )


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    email: EmailStr | None = None
    vip: bool = Field(False, description="Honoured only with a valid signature")
    signature: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] | None = Field(
        None, description="Hex HMAC-SHA256 of the identity's canonical string"
    )
    _as_sent: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_as_sent(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> CustomerIn:
        # The signature covers the strings exactly as sent, before trimming and e-mail
        # normalisation, so the host page signs what it puts in its data attributes.
        customer = handler(data)
        if isinstance(data, dict):
            customer._as_sent = {key: data.get(key) for key in ("id", "name", "email")}
        return customer

    def as_sent(self, field: str) -> str | None:
        """A string field as the client sent it (None when absent)."""
        value = self._as_sent.get(field, getattr(self, field))
        return None if value is None else str(value)


class ConversationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: CustomerIn | None = None


class ConversationCreated(BaseModel):
    id: str
    token: str
    status: StatusName


MAX_MESSAGE_CHARS = 4000


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MESSAGE_CHARS)
    ]
    client_msg_id: (
        Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[\w.:-]+$")]
        | None
    ) = None


class TurnOut(BaseModel):
    message: MessageOut
    reply: MessageOut | None
    status: StatusName


class HandoffOut(BaseModel):
    reply: MessageOut | None
    status: StatusName


class MessagesOut(BaseModel):
    messages: list[MessageOut]
    status: StatusName


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=1)
    helpful: bool


class CsatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=1, le=5)
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class Ok(BaseModel):
    ok: bool = True
    status: StatusName | None = None
