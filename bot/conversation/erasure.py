"""Erasing a customer: every conversation with their `customer_id`, with its messages (and their
embeddings), escalations, feedback and CSAT, the labelled examples learnt from them, the
customer records they belong to (with notes, NPS answers and health history), the files they
and CMEs attached (rows and files), and what channels keep about them (Slack events, threads,
outbox rows). Returns a receipt of what was removed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bot.storage import Database, attachments, customers, insight, outcomes, store
from bot.storage.filestore import FileStore

# A channel's part: (session, customer_id, conversation ids) -> rows removed, by table.
Eraser = Callable[[Session, str, list[str]], dict[str, int]]


@dataclass(frozen=True)
class ErasureReceipt:
    """What erasing one customer removed."""

    customer_id: str
    conversations: list[str]
    removed: dict[str, int] = field(default_factory=dict)


def erase_customer(
    db: Database, customer_id: str, erasers: Sequence[Eraser], *, files: FileStore
) -> ErasureReceipt:
    """Remove everything stored about `customer_id` in one transaction (and the files attached
    in their conversations, from `files`), then let the database drop the deleted
    text from its files."""
    with db.write() as session:
        records = customers.customers_of(session, customer_id=customer_id)
        ids = store.customer_conversation_ids(session, customer_id=customer_id)
        for record in records:  # every conversation of the record, whatever id it carried
            ids += [
                c.id
                for c in customers.customer_conversations(session, customer_id=record)
                if c.id not in ids
            ]
        removed: dict[str, int] = {}
        for eraser in erasers:  # before the conversations: they may look them up
            removed |= eraser(session, customer_id, ids)
        removed |= attachments.erase_attachments(session, files=files, conversation_ids=ids)
        removed |= outcomes.erase_examples(session, customer_id=customer_id, conversation_ids=ids)
        removed |= insight.erase_mentions(session, customer_id=customer_id, conversation_ids=ids)
        removed |= store.erase_conversations(session, conversation_ids=ids)
        removed |= customers.erase_customers(session, customer_ids=records)
    db.compact()
    return ErasureReceipt(customer_id=customer_id, conversations=ids, removed=removed)
