"""The durable outbox: Web API calls are rows written in the transaction that caused them,
delivered by one worker strictly in id order per thread, through rate limits and restarts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from sqlalchemy import event, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.channels.slack.models import OutboxStatus, Side, SlackOutbox, SlackThread
from bot.channels.slack.options import SlackOptions
from bot.channels.slack.routing import address, split_address
from bot.storage import Database, utcnow
from bot.storage.filestore import FileStore

log = logging.getLogger(__name__)
T = TypeVar("T")

MESSAGE = "message"  # a bot, agent or system message into a customer's DM or thread
ESCALATION = "escalation"  # the post in the CME channel
ALERT = "alert"  # an early-warning alert in the CME channel (bot.cme.alerts)
ESCALATION_UPDATE = "escalation_update"  # chat.update of that post after a handoff transition

# Not a Web API method: a CME's file, uploaded into the customer's thread (files.upload v2).
UPLOAD = "files.uploadV2"

# Slack errors worth retrying; every other `ok: false` is deterministic and retrying won't help.
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
# A shutdown waits this long for a call already on the wire, so a restart neither loses nor
# repeats it.
IN_FLIGHT_GRACE_S = 10.0


class NothingToUpdate(Exception):
    """chat.update for an escalation whose post never reached Slack."""


@dataclass(frozen=True)
class Row:
    """What the worker needs of an outbox row, detached from its session."""

    id: int
    thread_key: str
    kind: str
    method: str
    payload: dict[str, Any]
    conversation_id: str | None


class Outbox:
    """Queue (inside the caller's transaction) and deliver Slack Web API calls."""

    def __init__(
        self,
        db: Database,
        client: AsyncWebClient,
        options: SlackOptions,
        files: FileStore | None = None,
    ) -> None:
        self.db = db
        self.client = client
        self.options = options
        self.files = files  # where UPLOAD rows find the bytes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    # -- queueing: runs in the pipeline's or handoff's transaction ---------------------------

    def enqueue(
        self,
        session: Session,
        *,
        thread_key: str,
        kind: str,
        method: str,
        payload: dict[str, Any],
        conversation_id: str | None = None,
    ) -> SlackOutbox:
        """Add a call to the outbox in `session`'s transaction; the worker wakes on commit."""
        row = SlackOutbox(
            thread_key=thread_key,
            kind=kind,
            method=method,
            payload=payload,
            conversation_id=conversation_id,
            status=OutboxStatus.PENDING,
            attempts=0,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        if not session.info.get("slack_outbox_wake"):
            session.info["slack_outbox_wake"] = True
            event.listen(session, "after_commit", lambda _session: self.wake(), once=True)
        return row

    def wake(self) -> None:
        """Make the worker look for rows now (safe from any thread)."""
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    # -- delivery ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Background worker: one drain task per thread with pending rows."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        active: dict[str, asyncio.Task[None]] = {}

        def finished(key: str, task: asyncio.Task[None]) -> None:
            active.pop(key, None)
            if not task.cancelled() and task.exception() is not None:
                log.error("outbox thread %s stopped", key, exc_info=task.exception())
            else:
                self.wake()  # rows may have arrived for this thread while it was finishing

        try:
            while True:
                self._wake.clear()
                try:
                    pending = await asyncio.to_thread(self._pending_threads)
                except SQLAlchemyError:  # the database is away: keep polling, rows are safe
                    log.exception("slack outbox scan failed; retrying")
                    pending = []
                for key in pending:
                    if key in active or len(active) >= self.options.max_parallel_threads:
                        continue
                    task = asyncio.create_task(self._drain(key), name=f"slack-outbox:{key}")
                    active[key] = task
                    task.add_done_callback(lambda t, key=key: finished(key, t))
                # Not asyncio.wait_for: on 3.11 it swallows a cancel that races the wake-up.
                waiting = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait({waiting}, timeout=self.options.poll_interval_s)
                finally:
                    waiting.cancel()
        finally:
            tasks = list(active.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self, thread_key: str) -> None:
        """Deliver one thread's rows in id order until it is empty or its head is held."""

        async def release(row: Row | None) -> None:
            if row is not None:
                await asyncio.to_thread(self._release, row.id)

        while True:
            claim = asyncio.to_thread(self._claim_head, thread_key)
            row = await finish_before_cancel(claim, on_cancel=release)
            if row is None:
                return
            try:
                await self._deliver(row)
            except asyncio.CancelledError:
                await release(row)
                raise

    async def _deliver(self, row: Row) -> None:
        """Send one row, retrying the same row until it is sent or fails for good."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await finish_before_cancel(self._send(row))
                return
            except SlackApiError as exc:
                status = exc.response.status_code
                error = error_name(exc)
                if status == 429:
                    delay = self.options.retry_sleep(_retry_after(exc.response))
                    log.info(
                        "slack rate limit on %s #%d; retrying in %.2fs", row.method, row.id, delay
                    )
                elif status >= 500 or error in TRANSIENT_ERRORS:
                    delay = self.options.backoff(attempt)
                    log.warning(
                        "slack %s #%d failed (%s); retrying in %.1fs",
                        row.method,
                        row.id,
                        error,
                        delay,
                    )
                else:
                    await asyncio.to_thread(self._mark_failed, row.id, error)
                    log.error(
                        "slack %s #%d rejected with %s; not retried", row.method, row.id, error
                    )
                    return
            except NothingToUpdate as exc:
                await asyncio.to_thread(self._mark_failed, row.id, str(exc))
                return
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                delay = self.options.backoff(attempt)
                log.warning(
                    "slack %s #%d unreachable (%s); retrying in %.1fs",
                    row.method,
                    row.id,
                    exc,
                    delay,
                )
            await asyncio.to_thread(self._hold, row.id, delay)
            await asyncio.sleep(delay)

    async def _send(self, row: Row) -> None:
        payload = dict(row.payload)
        if row.method == UPLOAD:
            await self._upload(row, payload)
            return
        if row.method == "chat.update":
            ts = await asyncio.to_thread(self._escalation_post_ts, row.conversation_id)
            if ts is None:
                raise NothingToUpdate(f"conversation {row.conversation_id} has no escalation post")
            payload["ts"] = ts
        response = await self.client.api_call(row.method, json=payload)
        await asyncio.to_thread(self._mark_sent, row, response)

    async def _upload(self, row: Row, payload: dict[str, Any]) -> None:
        """Upload an attachment's bytes (read now: they may be large) into the thread."""
        store, conversation_id = self.files, row.conversation_id or ""
        data = None
        if store is not None:
            data = await asyncio.to_thread(store.get, conversation_id, payload["attachment_id"])
        if data is None:
            raise NothingToUpdate(f"attachment {payload['attachment_id']} is gone")
        thread = {"thread_ts": payload["thread_ts"]} if payload.get("thread_ts") else {}
        response = await self.client.files_upload_v2(
            channel=payload["channel"],
            content=data,
            filename=payload["filename"],
            title=payload["filename"],
            request_file_info=False,
            **thread,
        )
        await asyncio.to_thread(self._mark_sent, row, response)

    # -- transactions ----------------------------------------------------------------------------

    def _pending_threads(self) -> list[str]:
        with self.db.read() as session:
            rows = session.execute(
                select(SlackOutbox.thread_key)
                .where(SlackOutbox.status == OutboxStatus.PENDING)
                .group_by(SlackOutbox.thread_key)
                .order_by(func.min(SlackOutbox.id))
            ).scalars()
            return list(rows)

    def _claim_head(self, thread_key: str) -> Row | None:
        """Lease the oldest pending row of a thread; None when empty or the head is held."""
        now = utcnow()
        with self.db.write() as session:
            head = session.scalars(
                select(SlackOutbox)
                .where(
                    SlackOutbox.thread_key == thread_key, SlackOutbox.status == OutboxStatus.PENDING
                )
                .order_by(SlackOutbox.id)
                .limit(1)
                .with_for_update()
            ).first()
            if head is None or (head.locked_until is not None and head.locked_until > now):
                return None
            head.locked_until = now + timedelta(seconds=self.options.lease_s)
            head.attempts += 1
            return Row(
                head.id,
                head.thread_key,
                head.kind,
                head.method,
                dict(head.payload),
                head.conversation_id,
            )

    def _hold(self, row_id: int, delay: float) -> None:
        """Keep the lease while waiting out a rate limit or backoff."""
        with self.db.write() as session:
            row = session.get(SlackOutbox, row_id)
            if row is not None:
                row.locked_until = utcnow() + timedelta(seconds=delay + self.options.lease_s)
                row.attempts += 1

    def _release(self, row_id: int) -> None:
        with self.db.write() as session:
            row = session.get(SlackOutbox, row_id)
            if row is not None and row.status == OutboxStatus.PENDING:
                row.locked_until = None

    def _mark_sent(self, row: Row, response: AsyncSlackResponse) -> None:
        ts = response.get("ts")
        with self.db.write() as session:
            stored = session.get(SlackOutbox, row.id)
            if stored is None:
                return
            stored.status = OutboxStatus.SENT
            stored.delivered_at = utcnow()
            stored.locked_until = None
            stored.ts = ts
            if row.kind == ESCALATION and ts and row.conversation_id:
                session.merge(
                    SlackThread(
                        address=address(row.payload["channel"], ts),
                        conversation_id=row.conversation_id,
                        side=Side.CME,
                        created_at=utcnow(),
                        updated_at=utcnow(),
                    )
                )

    def _mark_failed(self, row_id: int, error: str) -> None:
        with self.db.write() as session:
            row = session.get(SlackOutbox, row_id)
            if row is not None:
                row.status, row.error, row.locked_until = OutboxStatus.FAILED, error, None

    def _escalation_post_ts(self, conversation_id: str | None) -> str | None:
        """The ts of the conversation's latest escalation post (its CME-side thread)."""
        with self.db.read() as session:
            thread = session.scalars(
                select(SlackThread)
                .where(SlackThread.conversation_id == conversation_id, SlackThread.side == Side.CME)
                .order_by(SlackThread.created_at.desc())
                .limit(1)
            ).first()
            return split_address(thread.address)[1] if thread is not None else None


async def finish_before_cancel(
    work: Awaitable[T], *, on_cancel: Callable[[T], Awaitable[None]] | None = None
) -> T:
    """Await `work`; if the caller is cancelled meanwhile, let `work` finish first (up to a
    grace period) and hand its result to `on_cancel`, then let the cancellation through.

    A shutdown then never leaves a row claimed by nobody or a Slack call half-recorded.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        done, _ = await asyncio.wait({task}, timeout=IN_FLIGHT_GRACE_S)
        finished = task in done and not task.cancelled() and task.exception() is None
        if finished and on_cancel is not None:
            await on_cancel(task.result())
        raise


def _retry_after(response: AsyncSlackResponse) -> float | None:
    value = (response.headers or {}).get("Retry-After") or (response.headers or {}).get(
        "retry-after"
    )
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def error_name(exc: SlackApiError) -> str:
    """Slack's error code (`channel_not_found` ...), or the HTTP status when the body has none."""
    data = exc.response.data
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"HTTP {exc.response.status_code}"
