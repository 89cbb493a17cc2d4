"""What CMEs get as JSON about customers: records, health with its "why" and trend, notes, CSAT
and NPS answers (fields may be added, never renamed). Times are ISO-8601 strings."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bot.schemas import VISIBLE_TEXT, CleanText, sent_at_most

MAX_NOTE_CHARS = 4000


class HealthComponentView(BaseModel):
    name: str
    value: float = Field(description="What was measured (a count, a peak, a mean rating, days)")
    weight: float = Field(description="The configured weight of one unit")
    mass: float = Field(description="The evidence it put on the scale, after recency decay")
    contribution: float = Field(description="Points it moved the score from the population mean")
    detail: str


class HealthPointView(BaseModel):
    at: str
    score: float
    tier: str


class HealthView(BaseModel):
    score: float | None
    tier: str | None
    drop: float | None = Field(description="Score at the start of the trend window minus now")
    computed_at: str | None
    population: float | None = Field(description="The population mean the score starts from")
    why: list[HealthComponentView]
    trend: list[HealthPointView]


class CustomerSummary(BaseModel):
    """One customer as a list row."""

    id: int
    name: str | None
    external_id: str | None
    email: str | None
    company: str | None
    vip: bool
    verified: bool
    channels: list[str]
    conversations: int
    last_seen_at: str
    health_score: float | None
    health_tier: str | None
    health_drop: float | None


class CustomersOut(BaseModel):
    customers: list[CustomerSummary]


class TimelineEscalation(BaseModel):
    created_at: str
    reasons: list[dict[str, Any]]
    outcome: str | None


class TimelineCsat(BaseModel):
    resolution: int
    rating: int
    reason: str | None
    comment: str | None
    created_at: str


class TimelineConversation(BaseModel):
    """One conversation in the customer's timeline, with how it ended."""

    id: str
    channel: str
    status: str
    outcome: str = Field(description="good / bad / neutral, as the health score counts it")
    created_at: str
    resolved_at: str | None
    first_message: str | None
    frustration_peak: float | None
    escalations: list[TimelineEscalation]
    csat: list[TimelineCsat]


class NpsView(BaseModel):
    score: int | None
    comment: str | None
    channel: str
    asked_at: str
    answered_at: str | None
    shown: bool = Field(description="Put in front of the customer (not only asked)")


class NoteView(BaseModel):
    id: int
    text: str
    author_id: int | None
    author_name: str | None
    created_at: str


class AccountView(BaseModel):
    company: str
    customers: int
    score: float
    tier: str


class CustomerDetail(BaseModel):
    """The customer page: identity, channels, timeline, answers, notes and health."""

    customer: CustomerSummary
    slack_user_id: str | None
    visitor: bool = Field(description="An anonymous visitor known by one browser only")
    health: HealthView
    account: AccountView | None
    timeline: list[TimelineConversation]
    nps: list[NpsView]
    notes: list[NoteView]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=MAX_NOTE_CHARS, pattern=VISIBLE_TEXT
        ),
        CleanText,
        sent_at_most(MAX_NOTE_CHARS),
    ]


class CustomerVipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vip: bool


class AccountSummary(BaseModel):
    """One B2B account (the customers of one company) as a list row."""

    company: str
    members: int = Field(description="Customers whose verified identity names this company")
    scored: int = Field(description="Members with a health score; the account's is their mean")
    score: float | None
    tier: str | None
    at_risk: int = Field(description="Members in the at-risk tier")
    watch: int = Field(description="Members in the watch tier")
    vip: int = Field(description="VIP members")
    last_seen_at: str | None
    computed_at: str | None = Field(description="When the account's health was last rolled up")


class AccountsOut(BaseModel):
    accounts: list[AccountSummary]


class AccountDetail(BaseModel):
    """An account's page: its health with why and trend, and its members, lowest health first."""

    account: AccountSummary
    health: HealthView
    members: list[CustomerSummary] = Field(description="At most `members_limit`, lowest first")
    members_limit: int
