"""ChannelHooks for Slack: turn messages and handoff changes into outbox rows, in the same
transaction that stores them, so a committed reply is always delivered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels.slack.blocks import (
    EscalationView,
    alert_message,
    csat_message,
    customer_message,
    escalation_message,
    nps_message,
)
from bot.channels.slack.models import SlackOutbox
from bot.channels.slack.outbox import (
    ALERT,
    ESCALATION,
    ESCALATION_UPDATE,
    MESSAGE,
    UPLOAD,
    Outbox,
)
from bot.channels.slack.routing import split_address
from bot.cme.auth import console_secret
from bot.conversation import summarize
from bot.settings import Settings
from bot.storage import (
    Alert,
    Conversation,
    Escalation,
    Message,
    Role,
    User,
    customers,
    store,
    utcnow,
)
from bot.storage.attachments import shared_path
from escalation import Status, Transition

CHANNEL = "slack"
DELIVERED_ROLES = (Role.BOT, Role.AGENT, Role.SYSTEM)
# Transitions that change what the CME-channel post should say.
POST_UPDATES = frozenset(
    {
        Transition.CLAIM,
        Transition.RELEASE,
        Transition.TRANSFER,
        Transition.HAND_BACK,
        Transition.RESOLVE,
        Transition.WITHDRAW,
    }
)


class SlackHooks:
    """Queues deliveries to Slack customers and the CME channel."""

    def __init__(self, settings: Settings, outbox: Outbox) -> None:
        self.settings = settings
        self.outbox = outbox

    def message_added(self, session: Session, conversation: Conversation, message: Message) -> None:
        """Queue a bot, agent or system message for a Slack customer's DM or thread."""
        if conversation.channel != CHANNEL or not conversation.channel_ref:
            return
        if message.role not in DELIVERED_ROLES:
            return
        author = session.get(User, message.author_id) if message.author_id else None
        secret, now = console_secret(self.settings), utcnow()
        content = customer_message(
            conversation_id=conversation.id,
            seq=message.seq,
            role=str(message.role),
            text=message.text,
            action=(message.decision or {}).get("action"),
            has_citation=bool(message.citations),
            author=author.name if author else None,
            files=[
                (a.name, self.settings.public_url.rstrip("/") + shared_path(secret, a, now))
                for a in message.attachments
            ],
        )
        channel, thread_ts = split_address(conversation.channel_ref)
        payload: dict[str, Any] = {"channel": channel, **content, "unfurl_links": False}
        if thread_ts:
            payload["thread_ts"] = thread_ts
        self.outbox.enqueue(
            session,
            thread_key=conversation.channel_ref,
            kind=MESSAGE,
            method="chat.postMessage",
            payload=payload,
            conversation_id=conversation.id,
        )
        # The file itself follows in the thread (its link above stays a fallback, should the
        # app lack the files:write scope).
        for attachment in message.attachments:
            upload: dict[str, Any] = {
                "channel": channel,
                "attachment_id": attachment.id,
                "filename": attachment.name,
            }
            if thread_ts:
                upload["thread_ts"] = thread_ts
            self.outbox.enqueue(
                session,
                thread_key=conversation.channel_ref,
                kind=MESSAGE,
                method=UPLOAD,
                payload=upload,
                conversation_id=conversation.id,
            )

    def escalated(
        self, session: Session, conversation: Conversation, escalation: Escalation
    ) -> None:
        """Queue the escalation post, with its summary and Claim button, in the CME channel."""
        cme_channel = self.settings.slack_cme_channel
        if not cme_channel:
            return
        view = self._view(session, conversation, status=Status.WAITING, reasons=escalation.reasons)
        self.outbox.enqueue(
            session,
            thread_key=cme_channel,
            kind=ESCALATION,
            method="chat.postMessage",
            payload={"channel": cme_channel, **escalation_message(view), "unfurl_links": False},
            conversation_id=conversation.id,
        )

    def status_changed(self, session: Session, conversation: Conversation, action: str) -> None:
        """Queue a chat.update of the escalation post (claimed by, resolved ...); after a
        resolution, the CSAT prompt (and the NPS question, when due) to a Slack customer."""
        if action == Transition.RESOLVE and conversation.channel == CHANNEL:
            self._ask_for_ratings(session, conversation)
        cme_channel = self.settings.slack_cme_channel
        if not cme_channel or action not in POST_UPDATES:
            return
        posted = session.scalars(
            select(SlackOutbox.id)
            .where(SlackOutbox.conversation_id == conversation.id, SlackOutbox.kind == ESCALATION)
            .limit(1)
        ).first()
        if posted is None:
            return
        escalation = store.current_escalation(session, conversation_id=conversation.id)
        view = self._view(
            session,
            conversation,
            status=Status(conversation.status),
            reasons=escalation.reasons if escalation else [],
        )
        self.outbox.enqueue(
            session,
            thread_key=cme_channel,
            kind=ESCALATION_UPDATE,
            method="chat.update",
            payload={"channel": cme_channel, **escalation_message(view)},
            conversation_id=conversation.id,
        )

    def _ask_for_ratings(self, session: Session, conversation: Conversation) -> None:
        if not conversation.channel_ref:
            return
        prompts = [
            csat_message(conversation_id=conversation.id, resolution=conversation.resolutions)
        ]
        survey = customers.pending_nps(session, conversation_id=conversation.id)
        # Asked by this resolution (bot.runtime asks before the hooks run), not answered yet.
        if survey is not None and survey.score is None and conversation.resolved_at is not None:
            if survey.asked_at >= conversation.resolved_at - timedelta(seconds=5):
                prompts.append(nps_message(survey_id=survey.id))
                # Posted in their DM or thread (durably, by the outbox): in front of them.
                customers.mark_nps_shown(session, survey=survey, now=survey.asked_at)
        channel, thread_ts = split_address(conversation.channel_ref)
        for prompt in prompts:
            payload: dict[str, Any] = {"channel": channel, **prompt}
            if thread_ts:
                payload["thread_ts"] = thread_ts
            self.outbox.enqueue(
                session,
                thread_key=conversation.channel_ref,
                kind=MESSAGE,
                method="chat.postMessage",
                payload=payload,
                conversation_id=conversation.id,
            )

    def alert_raised(self, session: Session, alert: Alert) -> None:
        """Queue an early-warning alert's post in the CME channel (same transaction)."""
        cme_channel = self.settings.slack_cme_channel
        if not cme_channel:
            return
        content = alert_message(
            title=alert.title,
            why=alert.why,
            examples=alert.examples,
            console_url=f"{self.settings.public_url.rstrip('/')}/console/insight",
        )
        self.outbox.enqueue(
            session,
            thread_key=cme_channel,
            kind=ALERT,
            method="chat.postMessage",
            payload={"channel": cme_channel, **content, "unfurl_links": False},
        )

    def _view(
        self, session: Session, conversation: Conversation, *, status: Status, reasons: list[Any]
    ) -> EscalationView:
        summary = summarize(store.list_messages(session, conversation_id=conversation.id))
        owner = session.get(User, conversation.owner_id) if conversation.owner_id else None
        return EscalationView(
            conversation_id=conversation.id,
            customer=conversation.customer_name or conversation.customer_id or "Anonymous visitor",
            channel=conversation.channel,
            reasons=[str(r.get("detail") or r.get("code")) for r in reasons if isinstance(r, dict)],
            main_question=summary.main_question,
            latest_message=summary.latest_message,
            status=status.value,
            owner=owner.name if owner else None,
            console_url=f"{self.settings.public_url}/console/conversations/{conversation.id}",
        )
