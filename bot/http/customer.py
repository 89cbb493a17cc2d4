"""Customer-facing REST API: conversations, messages, feedback, handoff, CSAT."""

from __future__ import annotations

from dataclasses import asdict, replace
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from bot.conversation import (
    handle_customer_message,
    leave_email,
    outcomes,
    request_handoff,
    wait_for,
    withdraw,
)
from bot.events import agent_topic, csat_event, feedback_event
from bot.http.deps import BotDep, ConversationId, LimitsDep, TokenDep, authorized
from bot.http.errors import documented_errors
from bot.http.identity import ClaimedIdentity, verify
from bot.http.ratelimit import client_ip
from bot.schemas import (
    MAX_DB_INT,
    ConversationCreated,
    ConversationIn,
    CsatIn,
    EmailIn,
    EmailOut,
    FeedbackIn,
    HandoffOut,
    MessageIn,
    MessageOut,
    MessagesOut,
    NpsIn,
    NpsOut,
    Ok,
    TurnOut,
    WaitOut,
)
from bot.storage import Conflict, customers, store

router = APIRouter(
    prefix="/api",
    tags=["customer"],
    responses=documented_errors(400, 401, 403, 404, 409, 413, 422, 429, 500),
)


@router.post("/conversations", status_code=201, response_model=ConversationCreated)
async def create_conversation(
    request: Request, bot: BotDep, limits: LimitsDep, body: ConversationIn | None = None
) -> ConversationCreated:
    """Start a conversation; the returned token authorises every later call for it.

    A signed customer (see bot.http.identity) is verified and exempt from the per-IP limit on new
    conversations; a wrong signature is refused with 403.
    """
    customer = body.customer if body and body.customer else None
    claimed = ClaimedIdentity()
    if customer is not None:
        claimed = ClaimedIdentity(
            id=customer.as_sent("id"),
            name=customer.as_sent("name"),
            email=customer.as_sent("email"),
            vip=customer.vip,
            signature=customer.signature,
            company=customer.as_sent("company"),
            expires=customer.expires,
        )
    identity = verify(
        bot.settings.identity_secret,
        claimed,
        now=bot.clock(),
        v1_until=bot.settings.identity_v1_until,
    )
    if customer is not None:  # store the validated forms (trimmed name, normalised e-mail)
        identity = replace(
            identity,
            name=customer.name,
            email=str(customer.email) if customer.email else None,
            company=customer.company if identity.verified else None,
        )
    if body is not None and body.visitor_id and not identity.verified:
        identity = replace(identity, visitor_id=body.visitor_id)
    if identity.verified:
        limits.customer_conversation(identity.id or "")
    else:
        limits.new_conversation(client_ip(request))

    def create() -> ConversationCreated:
        with bot.db.write() as session:
            conversation, token = store.create_conversation(
                session, customer=identity, now=bot.clock()
            )
            return ConversationCreated(id=conversation.id, token=token, status=conversation.status)

    return await run_in_threadpool(create)


@router.post("/conversations/{conversation_id}/messages", response_model=TurnOut)
async def post_message(
    conversation_id: ConversationId,
    body: MessageIn,
    bot: BotDep,
    token: TokenDep,
    limits: LimitsDep,
) -> TurnOut:
    """Send a customer message; returns it and the bot's reply (null while a human has the chat)."""
    await authorized(bot, conversation_id, token)
    limits.message(conversation_id)
    result = await handle_customer_message(
        bot, conversation_id=conversation_id, text=body.text, client_msg_id=body.client_msg_id
    )
    return TurnOut(
        message=MessageOut.of(result.message),
        reply=MessageOut.of(result.reply) if result.reply else None,
        status=result.status.value,
    )


@router.get("/conversations/{conversation_id}/messages", response_model=MessagesOut)
async def get_messages(
    conversation_id: ConversationId,
    bot: BotDep,
    token: TokenDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_DB_INT, description="Only messages with a greater seq")
    ] = 0,
) -> MessagesOut:
    """Messages after `after`, in order, as the customer sees them."""

    def read() -> MessagesOut:
        with bot.db.read() as session:
            conversation = store.authorize(session, conversation_id=conversation_id, token=token)
            messages = store.list_messages(session, conversation_id=conversation_id, after=after)
            return MessagesOut(
                messages=[MessageOut.of(m) for m in messages], status=conversation.status
            )

    return await run_in_threadpool(read)


@router.post("/conversations/{conversation_id}/feedback", response_model=Ok)
async def post_feedback(
    conversation_id: ConversationId, body: FeedbackIn, bot: BotDep, token: TokenDep
) -> Ok:
    """Mark a bot answer helpful or not; unhelpful answers feed the frustration signals."""

    def record() -> Ok:
        with bot.db.write() as session:
            conversation = store.authorize(session, conversation_id=conversation_id, token=token)
            store.record_feedback(
                session, conversation_id=conversation_id, seq=body.seq, helpful=body.helpful
            )
            outcomes.on_feedback(bot, session, conversation, seq=body.seq, helpful=body.helpful)
            return Ok(status=conversation.status)

    done = await run_in_threadpool(record)
    # The console showing this conversation updates without a reload.
    await bot.bus.publish(agent_topic(conversation_id), feedback_event(body.seq, body.helpful))
    return done


@router.post("/conversations/{conversation_id}/handoff", response_model=HandoffOut)
async def post_handoff(conversation_id: ConversationId, bot: BotDep, token: TokenDep) -> HandoffOut:
    """The customer asks for a person; the notice is returned once, null if already queued."""
    await authorized(bot, conversation_id, token)
    notice, status = await request_handoff(bot, conversation_id=conversation_id)
    return HandoffOut(reply=MessageOut.of(notice) if notice else None, status=status.value)


@router.get("/conversations/{conversation_id}/wait", response_model=WaitOut)
async def get_wait(conversation_id: ConversationId, bot: BotDep, token: TokenDep) -> WaitOut:
    """The wait for a person: place in the queue, time waited against the SLA, office hours."""
    await authorized(bot, conversation_id, token)
    wait = await run_in_threadpool(partial(wait_for, bot, conversation_id=conversation_id))
    return WaitOut(**{**asdict(wait), "status": wait.status.value})


@router.post("/conversations/{conversation_id}/email", response_model=EmailOut)
async def post_email(
    conversation_id: ConversationId, body: EmailIn, bot: BotDep, token: TokenDep
) -> EmailOut:
    """Leave an email address for a follow-up when nobody can reply in the chat soon."""
    await authorized(bot, conversation_id, token)
    email = await run_in_threadpool(
        partial(leave_email, bot, conversation_id=conversation_id, email=str(body.email))
    )
    return EmailOut(email=email)


@router.delete("/conversations/{conversation_id}/handoff", response_model=HandoffOut)
async def cancel_handoff(
    conversation_id: ConversationId, bot: BotDep, token: TokenDep
) -> HandoffOut:
    """The customer no longer wants a person while still queued: back to the bot."""
    await authorized(bot, conversation_id, token)
    change = await withdraw(bot, conversation_id=conversation_id)
    return HandoffOut(reply=None, status=change.status.value)


@router.post("/conversations/{conversation_id}/csat", response_model=Ok)
async def post_csat(
    conversation_id: ConversationId, body: CsatIn, bot: BotDep, token: TokenDep
) -> Ok:
    """Rate the conversation 1-5 with an optional reason (for a low rating) and comment, once
    per resolution."""

    def record() -> Ok:
        with bot.db.write() as session:
            conversation = store.authorize(session, conversation_id=conversation_id, token=token)
            store.record_csat(
                session,
                conversation=conversation,
                rating=body.rating,
                comment=body.comment,
                reason=body.reason,
                at=bot.clock(),
            )
            return Ok(status=conversation.status)

    done = await run_in_threadpool(record)
    await bot.bus.publish(agent_topic(conversation_id), csat_event(body.rating, body.comment))
    return done


@router.get("/conversations/{conversation_id}/nps", response_model=NpsOut)
async def get_nps(conversation_id: ConversationId, bot: BotDep, token: TokenDep) -> NpsOut:
    """Whether the NPS question was put after this conversation (at most once per customer per
    SUPPORTBOT_NPS_INTERVAL_DAYS, after a resolution), and whether it was answered. Reading an
    unanswered question is taken as showing it to the customer (the widget reads it to show
    it): it then counts in the response rate's denominator."""

    def read() -> NpsOut:
        with bot.db.write() as session:
            store.authorize(session, conversation_id=conversation_id, token=token)
            survey = customers.pending_nps(session, conversation_id=conversation_id)
            if survey is not None and survey.score is None:
                customers.mark_nps_shown(session, survey=survey, now=bot.clock())
            return NpsOut(
                asked=survey is not None, answered=bool(survey and survey.score is not None)
            )

    return await run_in_threadpool(read)


@router.post("/conversations/{conversation_id}/nps", response_model=Ok)
async def post_nps(
    conversation_id: ConversationId, body: NpsIn, bot: BotDep, token: TokenDep
) -> Ok:
    """Answer the NPS question (0-10, optional comment), once; 409 if it was not asked."""

    def record() -> Ok:
        with bot.db.write() as session:
            conversation = store.authorize(session, conversation_id=conversation_id, token=token)
            survey = customers.pending_nps(session, conversation_id=conversation_id)
            if survey is None:
                raise Conflict("the NPS question was not asked after this conversation")
            if not customers.answer_nps(
                session, survey=survey, score=body.score, comment=body.comment, now=bot.clock()
            ):
                raise Conflict("this NPS question has already been answered")
            return Ok(status=conversation.status)

    return await run_in_threadpool(record)
