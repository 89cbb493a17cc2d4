"""Button clicks, the rating modals and the Note shortcut. Each listener acks first, then calls
one bot function."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session

from bot import conversation as conversations
from bot.channels.slack.blocks import (
    CSAT_PREFIX,
    CSAT_REASON_PREFIX,
    CSAT_REASONS,
    HELPFUL,
    NOT_LINKED,
    NPS_PREFIX,
    csat_details_view,
    from_mrkdwn,
    nps_details_view,
    parse_answer_ref,
    parse_details,
    parse_message_ref,
)
from bot.channels.slack.hooks import CHANNEL
from bot.channels.slack.models import Side, SlackThread
from bot.channels.slack.outbox import error_name
from bot.channels.slack.routing import address
from bot.cme import accounts
from bot.conversation import outcomes
from bot.events import agent_topic, csat_event, feedback_event
from bot.runtime import Bot
from bot.storage import User, customers, store
from escalation import HandoffConflict

log = logging.getLogger(__name__)

Tell = Callable[..., Awaitable[None]]
Ack = Callable[[], Awaitable[Any]]

NOT_YOURS = "Only the person who asked can use these buttons."
THANKS = "Thanks for the feedback!"
ALREADY_QUEUED = "You're already in the queue; a person from the team will reply here."
RATED = "Thanks for rating this conversation!"
ANSWERED = "Thanks for your answer!"
COMMENTED = "Thanks, we've noted your comment."


def _where(body: dict[str, Any]) -> tuple[str, str | None]:
    """(channel, thread_ts) of the message a button sits on."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    message = body.get("message") or {}
    return channel or "", message.get("thread_ts")


class Interactions:
    """Listeners for the buttons the bot posts and for the Note message shortcut."""

    def __init__(self, bot: Bot, tell: Tell) -> None:
        self.bot = bot
        self.tell = tell

    async def feedback(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Helpful / Not helpful on an answer: store.record_feedback."""
        await ack()
        conversation_id, seq = parse_message_ref(action["value"])
        user = body["user"]["id"]
        channel, thread_ts = _where(body)

        def record() -> bool:
            with self.bot.db.write() as session:
                if not self._is_customer(session, conversation_id, user):
                    return False
                store.record_feedback(
                    session,
                    conversation_id=conversation_id,
                    seq=seq,
                    helpful=action["action_id"] == HELPFUL,
                )
                conversation = store.get_conversation(session, conversation_id=conversation_id)
                outcomes.on_feedback(
                    self.bot, session, conversation, seq=seq, helpful=action["action_id"] == HELPFUL
                )
                return True

        recorded = await asyncio.to_thread(record)
        if recorded:  # the console showing the conversation updates without a reload
            helpful = action["action_id"] == HELPFUL
            await self.bot.bus.publish(agent_topic(conversation_id), feedback_event(seq, helpful))
        await self.tell(channel, user, THANKS if recorded else NOT_YOURS, thread_ts=thread_ts)

    async def csat(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """A CSAT button after a resolution: store.record_csat (once per resolution), then the
        modal for the optional reason and comment."""
        await ack()
        rating = int(action["action_id"].removeprefix(CSAT_PREFIX))
        conversation_id = str(parse_answer_ref(action["value"])["conversation_id"])
        channel, thread_ts = _where(body)
        said, resolution = await self._answer(body, conversation_id, RATED, rating=rating)
        if resolution is not None:  # the modal first: its trigger lives 3 seconds
            view = csat_details_view(
                conversation_id=conversation_id,
                resolution=resolution,
                rating=rating,
                channel=channel,
                thread_ts=thread_ts,
            )
            await self._open(client, body, view)
        await self.tell(channel, body["user"]["id"], said, thread_ts=thread_ts)

    async def csat_reason(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Why a low rating, from the reason buttons of prompts posted before the modal asked
        it: store.set_csat_reason."""
        await ack()
        reason = action["action_id"].removeprefix(CSAT_REASON_PREFIX)
        conversation_id = str(parse_answer_ref(action["value"])["conversation_id"])
        if reason not in CSAT_REASONS:
            return
        said, _ = await self._answer(body, conversation_id, THANKS, reason=reason)
        channel, thread_ts = _where(body)
        await self.tell(channel, body["user"]["id"], said, thread_ts=thread_ts)

    async def nps(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """An NPS button: customers.answer_nps (once), then the modal for an optional comment."""
        await ack()
        score = int(action["action_id"].removeprefix(NPS_PREFIX))
        survey_id = int(parse_answer_ref(action["value"])["survey"])
        user = body["user"]["id"]
        channel, thread_ts = _where(body)

        def record() -> tuple[str, bool]:
            with self.bot.db.write() as session:
                survey = customers.get_survey(session, survey_id=survey_id)
                if survey is None or survey.conversation_id is None:
                    return NOT_YOURS, False
                if not self._is_customer(session, survey.conversation_id, user):
                    return NOT_YOURS, False
                answered = customers.answer_nps(
                    session, survey=survey, score=score, comment=None, now=self.bot.clock()
                )
                return (ANSWERED, True) if answered else ("You've already answered, thanks!", False)

        said, answered = await asyncio.to_thread(record)
        if answered:
            view = nps_details_view(
                survey_id=survey_id, score=score, channel=channel, thread_ts=thread_ts
            )
            await self._open(client, body, view)
        await self.tell(channel, user, said, thread_ts=thread_ts)

    async def csat_details(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The rating modal submitted: store.add_csat_details (reason and comment)."""
        details = parse_details(view)
        if details.errors:
            await ack(response_action="errors", errors=details.errors)
            return
        await ack()
        meta = details.metadata
        user = body["user"]["id"]
        if details.reason is None and details.comment is None:
            return  # sent empty: nothing to add

        def record() -> str:
            conversation_id = meta.get("conversation_id")
            resolution = meta.get("resolution")
            if not isinstance(conversation_id, str) or not isinstance(resolution, int):
                return NOT_YOURS
            with self.bot.db.write() as session:
                try:
                    if not self._is_customer(session, conversation_id, user):
                        return NOT_YOURS
                    conversation = store.get_conversation(session, conversation_id=conversation_id)
                    store.add_csat_details(
                        session,
                        conversation=conversation,
                        resolution=resolution,
                        reason=details.reason,
                        comment=details.comment,
                    )
                except store.NotFound:
                    return NOT_YOURS
                except store.Conflict as exc:
                    return f"{exc}."
                return COMMENTED

        said = await asyncio.to_thread(record)
        await self._tell_from(meta, user, said)

    async def nps_details(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The NPS modal submitted: customers.comment_nps."""
        details = parse_details(view)
        if details.errors:
            await ack(response_action="errors", errors=details.errors)
            return
        await ack()
        meta = details.metadata
        user = body["user"]["id"]
        comment = details.comment
        if comment is None:
            return

        def record() -> str:
            survey_id = meta.get("survey")
            if not isinstance(survey_id, int):
                return NOT_YOURS
            with self.bot.db.write() as session:
                survey = customers.get_survey(session, survey_id=survey_id)
                if survey is None or survey.conversation_id is None:
                    return NOT_YOURS
                if not self._is_customer(session, survey.conversation_id, user):
                    return NOT_YOURS
                if not customers.comment_nps(session, survey=survey, comment=comment):
                    return "This answer already has a comment."
                return COMMENTED

        said = await asyncio.to_thread(record)
        await self._tell_from(meta, user, said)

    async def _open(self, client: AsyncWebClient, body: dict[str, Any], view: dict) -> None:
        """Open a modal from the click's trigger; best effort (the comment is optional, and a
        trigger lives 3 seconds)."""
        trigger = body.get("trigger_id")
        if not trigger:
            return
        try:
            await client.views_open(trigger_id=trigger, view=view)
        except SlackApiError as exc:
            log.info("views.open for the rating details failed: %s", error_name(exc))

    async def _tell_from(self, meta: dict[str, Any], user: str, text: str) -> None:
        channel = meta.get("channel")
        if isinstance(channel, str) and channel:
            thread_ts = meta.get("thread_ts")
            await self.tell(
                channel, user, text, thread_ts=thread_ts if isinstance(thread_ts, str) else None
            )

    async def _answer(
        self,
        body: dict[str, Any],
        conversation_id: str,
        thanks: str,
        *,
        rating: int | None = None,
        reason: str | None = None,
    ) -> tuple[str, int | None]:
        """Record a rating or a reason: what to tell the user, and the rated resolution when a
        rating was recorded."""
        user = body["user"]["id"]

        def record() -> tuple[str, int | None]:
            with self.bot.db.write() as session:
                if not self._is_customer(session, conversation_id, user):
                    return NOT_YOURS, None
                conversation = store.get_conversation(session, conversation_id=conversation_id)
                try:
                    if rating is not None:
                        csat = store.record_csat(
                            session,
                            conversation=conversation,
                            rating=rating,
                            comment=None,
                            at=self.bot.clock(),
                        )
                        return thanks, csat.resolution
                    if reason is not None:
                        store.set_csat_reason(session, conversation=conversation, reason=reason)
                except store.Conflict as exc:
                    return f"{exc}.", None
                return thanks, None

        said, resolution = await asyncio.to_thread(record)
        if said == thanks and rating is not None:  # the console showing it updates
            await self.bot.bus.publish(agent_topic(conversation_id), csat_event(rating, None))
        return said, resolution

    async def talk_to_person(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Talk to a person: request_handoff (its notice reaches the thread by the outbox)."""
        await ack()
        conversation_id, _ = parse_message_ref(action["value"])
        user = body["user"]["id"]
        channel, thread_ts = _where(body)

        def allowed() -> bool:
            with self.bot.db.read() as session:
                return self._is_customer(session, conversation_id, user)

        if not await asyncio.to_thread(allowed):
            await self.tell(channel, user, NOT_YOURS, thread_ts=thread_ts)
            return
        notice, _status = await conversations.request_handoff(
            self.bot, conversation_id=conversation_id
        )
        if notice is None:
            await self.tell(channel, user, ALREADY_QUEUED, thread_ts=thread_ts)

    async def claim(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Claim in the CME channel: conversations.claim under the console's one-owner rule."""
        await ack()
        conversation_id = action["value"]
        slack_user = body["user"]["id"]
        channel, _ = _where(body)
        thread_ts = (body.get("message") or {}).get("ts")
        cme = await asyncio.to_thread(self._cme, slack_user)
        if cme is None:
            await self.tell(channel, slack_user, NOT_LINKED, thread_ts=thread_ts)
            return
        try:
            await conversations.claim(self.bot, conversation_id=conversation_id, user=cme)
        except (HandoffConflict, store.NotFound) as exc:
            await self.tell(
                channel,
                slack_user,
                f"You can't claim this conversation: {exc}.",
                thread_ts=thread_ts,
            )

    async def open_console(self, ack: Ack) -> None:
        """A link button: Slack opens the URL; the click only needs an ack."""
        await ack()

    async def note(self, ack: Ack, body: dict[str, Any]) -> None:
        """The Note message shortcut in an escalation thread: an internal note, never sent."""
        await ack()
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id") or ""
        slack_user = body["user"]["id"]
        thread_ts = message.get("thread_ts") or message.get("ts")
        text = from_mrkdwn(message.get("text") or "")

        def find() -> tuple[str | None, User | None]:
            with self.bot.db.read() as session:
                thread = session.get(SlackThread, address(channel, thread_ts))
                if thread is None or thread.side != Side.CME:
                    return None, None
                return thread.conversation_id, accounts.user_for_slack(
                    session, slack_user_id=slack_user
                )

        conversation_id, cme = await asyncio.to_thread(find)
        if conversation_id is None:
            await self.tell(
                channel,
                slack_user,
                "Notes can only be added in an escalation's thread.",
                thread_ts=thread_ts,
            )
            return
        if cme is None:
            await self.tell(channel, slack_user, NOT_LINKED, thread_ts=thread_ts)
            return
        if text:
            await conversations.agent_message(
                self.bot, conversation_id=conversation_id, user=cme, text=text, note=True
            )
            await self.tell(channel, slack_user, "Saved as an internal note.", thread_ts=thread_ts)

    def _cme(self, slack_user: str) -> User | None:
        with self.bot.db.read() as session:
            return accounts.user_for_slack(session, slack_user_id=slack_user)

    @staticmethod
    def _is_customer(session: Session, conversation_id: str, slack_user: str) -> bool:
        conversation = store.get_conversation(session, conversation_id=conversation_id)
        return conversation.channel == CHANNEL and conversation.customer_id == slack_user
