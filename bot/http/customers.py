"""The CME JSON API for customers under /api/cme/customers: lists (with the at-risk list), the
customer page's data, notes, VIP and erasure, every one by the record's number. Erasure by the
id conversations carry is `DELETE /api/cme/customers?customer_id=` (bot.http.cme)."""

from __future__ import annotations

import logging
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from bot import conversation
from bot.cme import customers
from bot.cme.customer_schemas import CustomerDetail, CustomersOut, CustomerVipIn, NoteIn, NoteView
from bot.cme.schemas import Done, ErasureOut
from bot.events import announce_erasure
from bot.http.deps import BotDep, UserDep
from bot.http.errors import documented_errors
from bot.schemas import MAX_DB_INT

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/cme",
    tags=["cme"],
    responses=documented_errors(400, 401, 403, 404, 413, 422, 500),
)

CustomerRef = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The customer record's id")]


@router.get("/customers", response_model=CustomersOut)
async def list_customers(
    bot: BotDep,
    user: UserDep,
    at_risk: Annotated[
        bool, Query(description="Only at-risk customers, the biggest recent drop first")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CustomersOut:
    """Customers, most recently seen first; `at_risk=true`: the at-risk list."""
    rows = await run_in_threadpool(
        customers.list_customers, bot, at_risk=at_risk, limit=limit, offset=offset
    )
    return CustomersOut(customers=rows)


@router.get("/customers/{customer_id}", response_model=CustomerDetail)
async def get_customer(customer_id: CustomerRef, bot: BotDep, user: UserDep) -> CustomerDetail:
    """The customer page: identity, channels, every conversation with its outcome, escalations
    and their reasons, CSAT and NPS answers, notes, VIP, and health with its why and trend."""
    return await run_in_threadpool(customers.customer_detail, bot, customer_id)


@router.post("/customers/{customer_id}/notes", response_model=NoteView, status_code=201)
async def add_note(customer_id: CustomerRef, body: NoteIn, bot: BotDep, user: UserDep) -> NoteView:
    """Add a note on the customer; notes outlive any one conversation."""
    return await run_in_threadpool(
        customers.add_note, bot, customer_id=customer_id, author=user, text=body.text
    )


@router.post("/customers/{customer_id}/vip", response_model=Done)
async def set_vip(
    customer_id: CustomerRef, body: CustomerVipIn, bot: BotDep, user: UserDep
) -> Done:
    """Mark or unmark the customer (and their conversations) as VIP."""
    await run_in_threadpool(customers.set_vip, bot, customer_id=customer_id, vip=body.vip)
    return Done()


@router.delete("/customers/{customer_id}", response_model=ErasureOut)
async def erase_record(customer_id: CustomerRef, bot: BotDep, user: UserDep) -> ErasureOut:
    """Erase this customer record: as erasing by each id it is known by (its conversations,
    messages, embeddings, feedback, CSAT, escalations, attachments and Slack data), with the
    record, its notes, NPS answers and health history; returns a receipt."""
    receipt = await run_in_threadpool(
        partial(
            conversation.erase_record,
            bot.db,
            customer_id,
            bot.erasers,
            files=bot.files,
        )
    )
    log.info(
        "CME %s erased customer %d: %d conversations",
        user.id,
        customer_id,
        len(receipt.conversations),
    )
    bot.outcomes_changed.set()  # retrieval forgets their examples too
    await announce_erasure(bot.bus, receipt.conversations)  # sockets drop what they buffered
    return ErasureOut(
        customer_id=receipt.customer_id,
        conversations=receipt.conversations,
        removed=receipt.removed,
    )
