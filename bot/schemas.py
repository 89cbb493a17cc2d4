"""The REST API's JSON shapes (fields may be added, never renamed)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PrivateAttr,
    StrictBool,
    StringConstraints,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy.orm import object_session

from bot.storage.models import Attachment, Message, User

# C0 and C1 control characters except tab, LF and CR: PostgreSQL refuses NUL in text, and the
# rest only disguise what a person wrote.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """`text` without control characters (tab and line breaks kept)."""
    return _CONTROL.sub("", text)


def _cleaned(value: object) -> object:
    return clean_text(value) if isinstance(value, str) else value


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


# Free text a person wrote: control characters are dropped before the length checks, so a text of
# nothing else is empty. Identifiers are never altered: control characters in them get 422.
CleanText = BeforeValidator(_cleaned)
NoControl = AfterValidator(_no_control)


def sent_at_most(max_length: int) -> BeforeValidator:
    """The OpenAPI document's maxLength, counted as sent: before trimming and `CleanText`, so
    list it after them (pydantic runs the last before-validator first)."""

    def check(value: object) -> object:
        if isinstance(value, str) and len(value) > max_length:
            raise PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": max_length},
            )
        return value

    return BeforeValidator(check)


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), CleanText]
# What the server enforces by trimming and cleaning, said in the schema for generated clients:
# at least one character that is neither white space nor a control character.
VISIBLE_TEXT = r"[^\s\x00-\x1f\x7f-\x9f]"
# An identifier without control characters, said in the schema (NoControl enforces it).
NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]+$"
CLIENT_MSG_ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"  # ASCII: JSON Schema's \w is, Python's is not
CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
TEAM_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"  # as an article's `team:` (retrieval)
# Sequence numbers and row ids are INTEGER columns: larger numbers name nothing that can exist,
# and PostgreSQL refuses them rather than matching no row.
MAX_DB_INT = 2**31 - 1


def _json_integer(value: Any) -> Any:
    """What JSON Schema calls an integer: a number with no fraction (4.0 included), not a
    boolean or a numeric string, which pydantic's lax mode would otherwise coerce."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError("int_from_float", "Input should be a whole number")
        return int(value)
    return value


# An integer request field, as the OpenAPI document says: refuses true, false and "1".
JsonInt = Annotated[int, BeforeValidator(_json_integer)]


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


# email-validator refuses the special-use domains (RFC 6761: .test, .local, .localhost ...) that
# `format: email` alone allows; the published pattern says so (JSON Schema patterns have no flags).
SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")
_NOT_SPECIAL_USE = (
    r"^(?!.*@(?:.*\.)?(?:" + "|".join(map(_any_case, SPECIAL_USE_DOMAINS)) + r")\.?$)"
)
CustomerEmail = Annotated[
    EmailStr,
    WithJsonSchema({"type": "string", "format": "email", "pattern": _NOT_SPECIAL_USE}),
]
MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
CustomerRole = Literal["customer", "bot", "agent", "system"]
StatusName = Literal["bot", "waiting", "agent", "resolved"]


class Citation(BaseModel):
    article_id: str
    title: str
    section: str
    url: str


def _author_name(message: Message) -> str | None:
    """The CME's name on an agent reply, read through the message's own session (every caller
    builds the shape inside the transaction or read that loaded the message)."""
    if message.role != "agent" or message.author_id is None:
        return None
    session = object_session(message)
    author = session.get(User, message.author_id) if session is not None else None
    return author.name if author is not None else None


class AttachmentOut(BaseModel):
    """A file sent with a message; `url` downloads it with the same credentials as the
    conversation (the customer's token, or a CME's)."""

    id: str
    name: str
    size: int
    content_type: str = Field(description="Sniffed from the bytes, not taken from the name")
    url: str

    @classmethod
    def of(cls, attachment: Attachment, *, cme: bool = False) -> AttachmentOut:
        """The shape of `attachment`, with the customer's or the CME's download URL."""
        base = "/api/cme" if cme else "/api"
        return cls(
            id=attachment.id,
            name=attachment.name,
            size=attachment.size,
            content_type=attachment.content_type,
            url=f"{base}/conversations/{attachment.conversation_id}/attachments/{attachment.id}",
        )


class MessageOut(BaseModel):
    seq: int
    role: CustomerRole
    text: str
    created_at: datetime
    citations: list[Citation] = []
    confidence: float | None = None
    client_msg_id: str | None = None
    author: str | None = Field(
        default=None, description="The CME's display name on their replies; null otherwise"
    )
    attachments: list[AttachmentOut] = []

    @classmethod
    def of(cls, message: Message, *, author: str | None = None) -> MessageOut:
        """The customer's view of `message`; `author` when the caller knows the CME's name
        (a message announced after its transaction has no session to read it from)."""
        return cls(
            author=author if message.role == "agent" and author else _author_name(message),
            seq=message.seq,
            role=message.role,  # type: ignore[arg-type]
            text=message.text,
            created_at=message.created_at,
            citations=[Citation(**c) for c in message.citations or []],
            confidence=message.confidence,
            client_msg_id=message.client_msg_id,
            attachments=[AttachmentOut.of(a) for a in message.attachments],
        )


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: (
        Annotated[
            str, StringConstraints(min_length=1, max_length=200, pattern=NO_CONTROL), NoControl
        ]
        | None
    ) = None
    name: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=200),
            CleanText,
            sent_at_most(200),
        ]
        | None
    ) = None
    email: CustomerEmail | None = None
    vip: StrictBool = Field(False, description="Honoured only with a valid signature")
    company: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=200),
            CleanText,
            sent_at_most(200),
        ]
        | None
    ) = Field(None, description="Stored only from a valid supportbot-identity-v2 signature")
    expires: Annotated[int, Ge(0), Le(MAX_UNIX_SECONDS), BeforeValidator(_json_integer)] | None = (
        Field(
            None,
            description="Unix time when the signature expires; present: a v2 signature",
        )
    )
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
            customer._as_sent = {key: data.get(key) for key in ("id", "name", "email", "company")}
        return customer

    def as_sent(self, field: str) -> str | None:
        """A string field as the client sent it (None when absent)."""
        value = self._as_sent.get(field, getattr(self, field))
        return None if value is None else str(value)


class ConversationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: CustomerIn | None = None
    visitor_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")] | None = Field(
        None,
        description="The widget's random per-browser id: an unverified visitor is one customer "
        "per browser (never merged with anyone on it)",
    )


class ConversationCreated(BaseModel):
    id: str
    token: str
    status: StatusName


MAX_MESSAGE_CHARS = 4000
# A chat message as sent by a customer or a CME: visible text, cleaned, within the limit as sent.
MessageText = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        pattern=VISIBLE_TEXT,
    ),
    CleanText,
    sent_at_most(MAX_MESSAGE_CHARS),
]


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: MessageText
    client_msg_id: (
        Annotated[
            str, StringConstraints(min_length=1, max_length=100, pattern=CLIENT_MSG_ID_PATTERN)
        ]
        | None
    ) = None


class TurnOut(BaseModel):
    message: MessageOut
    reply: MessageOut | None
    status: StatusName


class HandoffOut(BaseModel):
    reply: MessageOut | None
    status: StatusName


class WaitOut(BaseModel):
    """The wait for a person, as it really is (the widget words it)."""

    status: StatusName
    position: int | None = Field(description="Place in the queue, 1 = next; null unless waiting")
    waited_s: float
    sla_s: int = Field(description="The first-response target (SLA) in seconds")
    sla_passed: bool
    team_on_duty: bool
    opens_at: datetime | None = Field(description="When the team is next on duty, if not now")
    email_known: bool
    ask_email: bool = Field(description="Ask for an email: the SLA passed or the team is away")


# A follow-up address: the documented pattern is exactly what is accepted (no control
# characters, which PostgreSQL refuses), so generated clients and the server agree.
FollowUpEmail = Annotated[
    str,
    StringConstraints(
        min_length=5,
        max_length=254,
        # No \s: Python's and JavaScript's differ (U+0085, U+FEFF); spaces and C0/C1 controls.
        pattern=r"^[^@\x00-\x20\x7f-\x9f]+@[^@\x00-\x20\x7f-\x9f.]+(\.[^@\x00-\x20\x7f-\x9f.]+)+$",
    ),
]


class EmailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: FollowUpEmail


class EmailOut(BaseModel):
    email: str


class MessagesOut(BaseModel):
    messages: list[MessageOut]
    status: StatusName


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: JsonInt = Field(ge=1, le=MAX_DB_INT)
    helpful: StrictBool


CsatReasonName = Literal[
    "not_answered", "wrong_answer", "too_slow", "hard_to_reach_human", "rude_or_unhelpful", "other"
]


class CsatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: JsonInt = Field(ge=1, le=5)
    reason: CsatReasonName | None = Field(
        None, description="Why a low rating was given (optional, one choice)"
    )
    comment: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=2000),
            CleanText,
            sent_at_most(2000),
        ]
        | None
    ) = None


class NpsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: JsonInt = Field(ge=0, le=10, description="How likely to recommend us, 0-10")
    comment: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=2000),
            CleanText,
            sent_at_most(2000),
        ]
        | None
    ) = None


class NpsOut(BaseModel):
    asked: bool = Field(description="The NPS question was put after this conversation")
    answered: bool


class ErrorOut(BaseModel):
    """Every error answer but 422: `detail` names the problem."""

    detail: str
    error_id: str | None = Field(None, description="500 only: the id the server log holds")
    retry_after: int | None = Field(None, description="429 only: seconds to wait")


class ValidationProblem(BaseModel):
    type: str
    loc: list[str | int]
    msg: str


class ValidationErrorOut(BaseModel):
    """422: `detail` lists the problems in one sentence; `errors` has them one by one."""

    detail: str
    errors: list[ValidationProblem]


class Ok(BaseModel):
    ok: bool = True
    status: StatusName | None = None
