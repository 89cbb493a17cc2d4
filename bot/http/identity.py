"""Verified customer identity: the host page's server signs the customer's fields.

The signature is the lowercase hex HMAC-SHA256, keyed by SUPPORTBOT_IDENTITY_SECRET, of

    supportbot-identity-v1\\nid=<id>\\nname=<name>\\nemail=<email>\\nvip=<true|false>

(UTF-8, lines joined by a single LF, no trailing newline; a missing name or email is empty).
The values are exactly the strings the page passes in `data-customer-*`. Only a verified
identity carries customer data such as VIP into the conversation.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from bot.storage import CustomerIdentity

CANONICAL_VERSION = "supportbot-identity-v1"


class IdentityRejected(Exception):
    """A signed identity did not verify; the message says why (HTTP 403)."""


@dataclass(frozen=True)
class ClaimedIdentity:
    """Customer fields as the host page sent them, with the signature if any."""

    id: str | None = None
    name: str | None = None
    email: str | None = None
    vip: bool = False
    signature: str | None = None


def canonical_string(*, customer_id: str, name: str | None, email: str | None, vip: bool) -> str:
    """The exact text that is signed (see the module docstring)."""
    return "\n".join(
        [
            CANONICAL_VERSION,
            f"id={customer_id}",
            f"name={name or ''}",
            f"email={email or ''}",
            f"vip={'true' if vip else 'false'}",
        ]
    )


def sign(
    secret: str,
    *,
    customer_id: str,
    name: str | None = None,
    email: str | None = None,
    vip: bool = False,
) -> str:
    """The signature a host page's server puts in `data-customer-signature`."""
    message = canonical_string(customer_id=customer_id, name=name, email=email, vip=vip)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify(secret: str, claimed: ClaimedIdentity) -> CustomerIdentity:
    """The identity to store: verified when signed correctly, anonymous-with-hints when unsigned.

    Raises IdentityRejected for a signature that does not match, or one that cannot be checked.
    """
    if claimed.signature is None:
        return CustomerIdentity(id=claimed.id, name=claimed.name, email=claimed.email)
    if not secret:
        raise IdentityRejected(
            "identity verification is off on this server: set SUPPORTBOT_IDENTITY_SECRET, "
            "or drop data-customer-signature"
        )
    if not claimed.id:
        raise IdentityRejected("a signed identity needs a customer id (data-customer-id)")
    fields = [claimed.id, claimed.name or "", claimed.email or ""]
    if any("\n" in value or "\r" in value for value in fields):
        raise IdentityRejected("signed customer fields must not contain line breaks")
    expected = sign(
        secret, customer_id=claimed.id, name=claimed.name, email=claimed.email, vip=claimed.vip
    )
    if not hmac.compare_digest(expected, claimed.signature.lower()):
        raise IdentityRejected(
            "the customer signature does not match: sign the canonical string "
            f"'{CANONICAL_VERSION}\\nid=...\\nname=...\\nemail=...\\nvip=true|false' "
            "with SUPPORTBOT_IDENTITY_SECRET"
        )
    return CustomerIdentity(
        id=claimed.id, name=claimed.name, email=claimed.email, verified=True, vip=claimed.vip
    )
