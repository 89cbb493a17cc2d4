"""Erasing a customer: every conversation with their `customer_id`, with its messages (and their
embeddings), escalations, feedback and CSAT, the labelled examples learnt from them, the
customer records they belong to (with notes, NPS answers and health history), the files they
and CMEs attached (rows and files), and what channels keep about them (Slack events, threads,
outbox rows). Returns a receipt of what was removed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bot.storage import (
    Customer,
    Database,
    NotFound,
    attachments,
    customers,
    insight,
    outcomes,
    store,
)
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
        conversation_ids, removed = _erase(session, [customer_id], [], erasers, files=files)
    db.compact()
    return ErasureReceipt(customer_id=customer_id, conversations=conversation_ids, removed=removed)


def erase_record(
    db: Database, record_id: int, erasers: Sequence[Eraser], *, files: FileStore
) -> ErasureReceipt:
    """Erase one customer record (the console's customer page): as `erase_customer` for each
    id it is known by (verified id, Slack user, e-mail, visitor id, and the ids its
    conversations carry), and the record itself, in one transaction. NotFound when there is no
    such record."""
    with db.write() as session:
        record = session.get(Customer, record_id)
        if record is None:
            raise NotFound(f"customer {record_id} does not exist")
        keys = [
            key
            for key in (record.external_id, record.slack_user_id, record.email, record.visitor_id)
            if key
        ]
        keys += sorted(
            {
                c.customer_id
                for c in customers.customer_conversations(session, customer_id=record_id)
                if c.customer_id and c.customer_id not in keys
            }
        )
        conversation_ids, removed = _erase(session, keys, [record_id], erasers, files=files)
    db.compact()
    label = keys[0] if keys else str(record_id)
    return ErasureReceipt(customer_id=label, conversations=conversation_ids, removed=removed)


def _erase(
    session: Session,
    keys: list[str],
    records: list[int],
    erasers: Sequence[Eraser],
    *,
    files: FileStore,
) -> tuple[list[str], dict[str, int]]:
    """Erase what these customer ids and records hold; (conversation ids, rows removed)."""
    records = sorted(
        set(records).union(*(customers.customers_of(session, customer_id=k) for k in keys))
    )
    ids: list[str] = []
    for key in keys:
        ids += [
            i for i in store.customer_conversation_ids(session, customer_id=key) if i not in ids
        ]
    for record in records:  # every conversation of the record, whatever id it carried
        ids += [
            c.id
            for c in customers.customer_conversations(session, customer_id=record)
            if c.id not in ids
        ]
    removed: dict[str, int] = {}

    def add(counts: dict[str, int]) -> None:
        for table, count in counts.items():
            removed[table] = removed.get(table, 0) + count

    for key in keys or [""]:  # a record known by no id: its conversations' rows only
        for eraser in erasers:  # before the conversations: they may look them up
            add(eraser(session, key, ids))
        add(outcomes.erase_examples(session, customer_id=key or None, conversation_ids=ids))
        add(insight.erase_mentions(session, customer_id=key, conversation_ids=ids))
    add(attachments.erase_attachments(session, files=files, conversation_ids=ids))
    add(store.erase_conversations(session, conversation_ids=ids))
    add(customers.erase_customers(session, customer_ids=records))
    return ids, removed
