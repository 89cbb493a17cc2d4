"""What CMEs get as JSON: the queue, a conversation's context packet, CME accounts, canned replies
and article suggestions (fields may be added, never renamed). Times are ISO-8601 strings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from bot.schemas import AttachmentOut, StatusName


class CustomerView(BaseModel):
    id: str | None
    name: str | None
    email: str | None
    verified: bool
    company: str | None = Field(None, description="From a verified identity only")
    record_id: int | None = Field(None, description="The customer record (customer page)")
    health_score: float | None = None
    health_tier: str | None = Field(None, description="healthy / watch / at_risk")


class EscalationView(BaseModel):
    """Why and when a conversation entered the human queue, and its first-response SLA."""

    id: int
    reasons: list[dict[str, Any]] = Field(description="[{code, detail}] as the policy gave them")
    trigger_seq: int | None
    created_at: str
    claimed_at: str | None
    claimed_by: int | None
    first_response_at: str | None
    waiting_seconds: float
    sla_due_at: str
    sla_breached: bool


class QueueItem(BaseModel):
    """One waiting or claimed conversation, as a queue card."""

    id: str
    status: StatusName
    owner_id: int | None
    channel: str
    customer: CustomerView
    vip: bool
    frustration: float = Field(description="The latest customer turn's frustration, 0-1")
    latest_message: str | None
    main_question: str | None = Field(
        default=None, description="The customer's main question (see the context packet)"
    )
    team: str | None = Field(
        default=None, description="The team of the article found for it (article `team:`)"
    )
    escalation: EscalationView | None
    urgency: float = Field(description="Frustration + wait against the SLA + breach + VIP")
    unread: int = Field(
        default=0, description="Customer messages you have not seen (opening it marks them read)"
    )


class ReadOut(BaseModel):
    """Your read mark on a conversation: its customer messages after it are unread for you."""

    conversation_id: str
    last_read_seq: int


class QueueOut(BaseModel):
    conversations: list[QueueItem]


class SearchRow(QueueItem):
    """A conversation found by a search, with the message that matched."""

    match: str | None = Field(description="Where the first search word was found, shortened")


class SearchOut(BaseModel):
    conversations: list[SearchRow]


class ConversationView(BaseModel):
    id: str
    channel: str
    channel_ref: str | None
    customer: CustomerView
    vip: bool
    status: StatusName
    owner_id: int | None
    created_at: str
    reopened_from: str | None


class SummaryView(BaseModel):
    main_question: str | None
    latest_message: str | None


class TrendPoint(BaseModel):
    seq: int
    frustration: float | None


class Retrieved(BaseModel):
    """What the bot found in the KB for one customer turn."""

    seq: int
    query: str | None
    hits: list[dict[str, Any]]


class FeedbackMark(BaseModel):
    seq: int
    helpful: bool


class CsatView(BaseModel):
    """The customer's rating of the conversation."""

    rating: int
    comment: str | None
    created_at: str


class TranscriptMessage(BaseModel):
    """A message with everything the pipeline stored about it (notes included)."""

    seq: int
    role: str
    text: str
    created_at: str
    author_id: int | None
    citations: list[dict[str, Any]]
    confidence: float | None
    scores: dict[str, Any] | None
    decision: dict[str, Any] | None
    retrieval: dict[str, Any] | None
    attachments: list[AttachmentOut] = []


class ContextPacket(BaseModel):
    """Everything a CME needs to take over without asking the customer to repeat themselves."""

    conversation: ConversationView
    escalation: EscalationView | None
    summary: SummaryView
    frustration_trend: list[TrendPoint]
    retrieved: list[Retrieved]
    feedback: list[FeedbackMark]
    csat: CsatView | None = None
    transcript: list[TranscriptMessage]


class CmeView(BaseModel):
    id: int
    email: str
    name: str
    is_admin: bool = Field(False, description="A console admin (`supportbot user add --admin`)")


class UsersOut(BaseModel):
    users: list[CmeView]


class CannedReply(BaseModel):
    article_id: str
    title: str
    url: str
    passage: str


class CannedRepliesOut(BaseModel):
    articles: list[CannedReply]


class Suggestion(BaseModel):
    article_id: str
    title: str
    section: str
    url: str
    passage: str
    score: float


class SuggestionsOut(BaseModel):
    query: str | None
    articles: list[Suggestion]


class ChangeOut(BaseModel):
    """A conversation after a handoff action; `seq` is the message the action added, if any."""

    conversation_id: str
    status: StatusName
    owner_id: int | None
    seq: int | None = None


class ErasureOut(BaseModel):
    """What erasing a customer removed: their conversations, and rows removed by table."""

    customer_id: str
    conversations: list[str]
    removed: dict[str, int]


class Done(BaseModel):
    ok: bool = True


class OutcomeExampleView(BaseModel):
    """One labelled example retrieval learns from."""

    id: int
    query: str
    article_id: str | None = Field(description="null: the KB has no answer for the query")
    source: str
    polarity: int = Field(description="1: the article answers it; -1: it does not")
    weight: float
    in_use: bool = Field(description="false once the article changed or was removed")
    conversation_id: str | None
    created_at: str


class ArticleOutcomes(BaseModel):
    """Examples for one article (or for "no answer"), by polarity."""

    article_id: str | None
    positive: int
    negative: int


class OutcomesOut(BaseModel):
    """What the bot has learnt from outcomes on this KB: counts and the newest examples."""

    kb: str
    total: int
    in_use: int
    by_source: dict[str, int]
    by_article: list[ArticleOutcomes]
    recent: list[OutcomeExampleView]
