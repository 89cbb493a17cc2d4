"""The CME JSON API for insight: topics, early-warning alerts (list, acknowledge, resolve) and
the KB gap report, under /api/cme/."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from bot.cme import drafts
from bot.cme.gaps import gap_report
from bot.cme.schemas import Done
from bot.cme.topics import topic_stats
from bot.http.deps import BotDep, ConversationId, UserDep
from bot.http.errors import documented_errors
from bot.runtime import Bot
from bot.schemas import MAX_DB_INT
from bot.storage import Alert, AlertStatus
from bot.storage import insight as insight_store

router = APIRouter(
    prefix="/api/cme",
    tags=["insight"],
    responses=documented_errors(400, 401, 403, 404, 409, 413, 422, 500),
)

AlertId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]


class AlertView(BaseModel):
    """An early warning: why it fired (the numbers against the baseline), examples, the topic
    and the affected customers, and who acknowledged or resolved it."""

    id: int
    kind: str
    status: str
    title: str
    topic_id: int | None
    conversation_id: str | None
    why: dict[str, Any]
    examples: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    created_at: str
    acknowledged_at: str | None
    acknowledged_by: int | None
    resolved_at: str | None
    resolved_by: int | None


class AlertsOut(BaseModel):
    alerts: list[AlertView]
    open: int


class TopicView(BaseModel):
    id: int
    label: str
    article_id: str | None
    size: int
    volume: int
    previous_volume: int
    answered_share: float | None
    escalation_rate: float | None
    mean_frustration: float | None
    examples: list[dict[str, Any]]


class TopicsOut(BaseModel):
    topics: list[TopicView]


def _view(alert: Alert) -> AlertView:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return AlertView(
        id=alert.id,
        kind=alert.kind,
        status=alert.status,
        title=alert.title,
        topic_id=alert.topic_id,
        conversation_id=alert.conversation_id,
        why=alert.why or {},
        examples=alert.examples or [],
        customers=alert.customers or [],
        created_at=alert.created_at.isoformat(),
        acknowledged_at=iso(alert.acknowledged_at),
        acknowledged_by=alert.acknowledged_by,
        resolved_at=iso(alert.resolved_at),
        resolved_by=alert.resolved_by,
    )


def _alerts(bot: Bot, status: AlertStatus | None, limit: int) -> AlertsOut:
    with bot.db.read() as session:
        rows = insight_store.list_alerts(session, status=status, limit=limit)
        unresolved = insight_store.list_alerts(session, status=AlertStatus.OPEN, limit=1000)
        return AlertsOut(alerts=[_view(a) for a in rows], open=len(unresolved))


@router.get("/alerts", response_model=AlertsOut)
async def list_alerts(
    bot: BotDep,
    user: UserDep,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertsOut:
    """Early-warning alerts, newest first, and how many are open (the console's banner)."""
    return await run_in_threadpool(_alerts, bot, AlertStatus(status) if status else None, limit)


def _change(bot: Bot, alert_id: int, status: AlertStatus, user_id: int) -> AlertView:
    with bot.db.write() as session:
        alert = insight_store.change_alert(
            session, alert_id=alert_id, status=status, user_id=user_id, now=bot.clock()
        )
        return _view(alert)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertView)
async def acknowledge_alert(bot: BotDep, user: UserDep, alert_id: AlertId) -> AlertView:
    """Record that this CME has seen the alert and is on it."""
    return await run_in_threadpool(_change, bot, alert_id, AlertStatus.ACKNOWLEDGED, user.id)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertView)
async def resolve_alert(bot: BotDep, user: UserDep, alert_id: AlertId) -> AlertView:
    """Record that the problem behind the alert is over."""
    return await run_in_threadpool(_change, bot, alert_id, AlertStatus.RESOLVED, user.id)


def _topics(bot: Bot, days: int) -> TopicsOut:
    with bot.db.read() as session:
        return TopicsOut(topics=[TopicView(**t) for t in topic_stats(bot, session, days=days)])


@router.get("/topics", response_model=TopicsOut)
async def list_topics(
    bot: BotDep, user: UserDep, days: Annotated[int, Query(ge=1, le=90)] = 7
) -> TopicsOut:
    """Topics of customer questions with volume and trend (this period vs the one before),
    share answered, escalation rate, mean frustration and examples."""
    return await run_in_threadpool(_topics, bot, days)


def _gaps(bot: Bot, days: int) -> dict[str, Any]:
    with bot.db.read() as session:
        return gap_report(bot, session, days=days)


@router.get("/kb/gaps")
async def kb_gaps(
    bot: BotDep, user: UserDep, days: Annotated[int, Query(ge=1, le=365)] = 28
) -> dict[str, Any]:
    """The KB gap report: topics the bot fails on, ranked by volume x failure rate, with counts,
    trend, examples and the closest article; per-article answer share and helpful rates;
    articles no one was served."""
    return await run_in_threadpool(_gaps, bot, days)


DraftId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$", max_length=80)]


class DraftView(BaseModel):
    """An article made from a case: a draft (never served) or published."""

    id: str
    title: str
    questions: list[str]
    body: str
    draft: bool
    conversation_id: str | None
    topic_id: int | None
    published_at: str | None
    effect: dict[str, Any] | None = None


class DraftsOut(BaseModel):
    drafts: list[DraftView]


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    questions: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list, max_length=20
    )
    body: str = Field(min_length=1, max_length=20_000)


def _draft_view(bot: Bot, draft: drafts.Draft, *, effect: bool = False) -> DraftView:
    view = DraftView(**draft.to_dict())
    if effect and not draft.draft:
        with bot.db.read() as session:
            view.effect = drafts.publication_effect(session, draft, now=bot.clock())
    return view


def _create_draft(bot: Bot, conversation_id: str) -> DraftView:
    with bot.db.read() as session:
        return _draft_view(bot, drafts.create_draft(bot, session, conversation_id=conversation_id))


@router.post("/conversations/{conversation_id}/draft", response_model=DraftView, status_code=201)
async def draft_from_conversation(
    bot: BotDep, user: UserDep, conversation_id: ConversationId
) -> DraftView:
    """Write a draft article (`draft: true`, never served) from a resolved conversation where a
    CME answered: the customer's question as title, similar questions of its topic, the CME's
    replies as body, with personal data redacted."""
    return await run_in_threadpool(_create_draft, bot, conversation_id)


@router.get("/drafts", response_model=DraftsOut)
async def list_drafts(bot: BotDep, user: UserDep) -> DraftsOut:
    """Articles made from cases, drafts first."""
    found = await run_in_threadpool(drafts.list_drafts, bot.settings.kb_dir)
    return DraftsOut(drafts=[_draft_view(bot, d) for d in found])


@router.get("/drafts/{draft_id}", response_model=DraftView)
async def get_draft(bot: BotDep, user: UserDep, draft_id: DraftId) -> DraftView:
    """One article made from a case; once published, its topic's escalation and answer rate
    in the weeks before and after."""

    def read() -> DraftView:
        return _draft_view(bot, drafts.read_draft(bot.settings.kb_dir, draft_id), effect=True)

    return await run_in_threadpool(read)


@router.put("/drafts/{draft_id}", response_model=DraftView)
async def edit_draft(bot: BotDep, user: UserDep, draft_id: DraftId, edit: DraftIn) -> DraftView:
    """Save an editor's changes to a draft."""
    draft = await run_in_threadpool(
        drafts.update_draft,
        bot.settings.kb_dir,
        draft_id,
        title=edit.title,
        questions=edit.questions,
        body=edit.body,
    )
    return _draft_view(bot, draft)


@router.post("/drafts/{draft_id}/publish", response_model=DraftView)
async def publish_draft(bot: BotDep, user: UserDep, draft_id: DraftId) -> DraftView:
    """Set `draft: false`; the KB watcher serves the article within seconds."""
    draft = await run_in_threadpool(
        drafts.publish_draft, bot.settings.kb_dir, draft_id, now=bot.clock()
    )
    return _draft_view(bot, draft)


@router.post("/drafts/{draft_id}/discard", response_model=Done)
async def discard_draft(bot: BotDep, user: UserDep, draft_id: DraftId) -> Done:
    """Delete a draft's file."""
    await run_in_threadpool(drafts.discard_draft, bot.settings.kb_dir, draft_id)
    return Done()


class ConversationTopic(BaseModel):
    seq: int
    topic_id: int
    label: str
    article_id: str | None


class ConversationTopicsOut(BaseModel):
    topics: list[ConversationTopic]


def _conversation_topics(bot: Bot, conversation_id: str) -> ConversationTopicsOut:
    with bot.db.read() as session:
        rows = insight_store.conversation_topics(session, conversation_id=conversation_id)
        return ConversationTopicsOut(
            topics=[
                ConversationTopic(
                    seq=seq, topic_id=topic.id, label=topic.label, article_id=topic.article_id
                )
                for seq, topic in rows
            ]
        )


@router.get("/conversations/{conversation_id}/topics", response_model=ConversationTopicsOut)
async def conversation_topics(
    bot: BotDep, user: UserDep, conversation_id: ConversationId
) -> ConversationTopicsOut:
    """The topic of each customer question in a conversation (those assigned so far)."""
    return await run_in_threadpool(_conversation_topics, bot, conversation_id)
