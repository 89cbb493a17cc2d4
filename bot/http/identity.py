"""Verified customer identity: the host page's server signs the customer's fields.

The signature is the lowercase hex HMAC-SHA256, keyed by SUPPORTBOT_IDENTITY_SECRET, of

    supportbot-identity-v2\\nid=<id>\\nname=<name>\\nemail=<email>\\ncompany=<company>\\n
    vip=<true|false>\\nexpires=<unix seconds>

(one line per field, UTF-8, joined by a single LF, no trailing newline; a missing name, email or
company is empty). The values are exactly the strings the page passes in `data-customer-*`;
`expires` is when the signature stops being accepted, at most IDENTITY_MAX_LIFETIME_S ahead.

The earlier `supportbot-identity-v1\\nid=...\\nname=...\\nemail=...\\nvip=...` (no company, no
expiry) is accepted until SUPPORTBOT_IDENTITY_V1_UNTIL, the end of the transition period.
Only a verified identity carries customer data such as VIP and company into the conversation.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.storage import CustomerIdentity

CANONICAL_VERSION = "supportbot-identity-v1"
CANONICAL_VERSION_V2 = "supportbot-identity-v2"
IDENTITY_MAX_LIFETIME_S = 7 * 86_400  # a page signed for longer than a week is a standing key


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
    company: str | None = None
    expires: int | None = None  # set: a v2 signature


def canonical_string(*, customer_id: str, name: str | None, email: str | None, vip: bool) -> str:
    """The exact text that is signed in v1 (see the module docstring)."""
    return "\n".join(
        [
            CANONICAL_VERSION,
            f"id={customer_id}",
            f"name={name or ''}",
            f"email={email or ''}",
            f"vip={'true' if vip else 'false'}",
        ]
    )


def canonical_string_v2(
    *,
    customer_id: str,
    name: str | None,
    email: str | None,
    company: str | None,
    vip: bool,
    expires: int,
) -> str:
    """The exact text that is signed in v2 (see the module docstring)."""
    return "\n".join(
        [
            CANONICAL_VERSION_V2,
            f"id={customer_id}",
            f"name={name or ''}",
            f"email={email or ''}",
            f"company={company or ''}",
            f"vip={'true' if vip else 'false'}",
            f"expires={expires}",
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
    """A v1 signature (accepted until IDENTITY_V1_UNTIL)."""
    message = canonical_string(customer_id=customer_id, name=name, email=email, vip=vip)
    return _hmac(secret, message)


def sign_v2(
    secret: str,
    *,
    customer_id: str,
    expires: int,
    name: str | None = None,
    email: str | None = None,
    company: str | None = None,
    vip: bool = False,
) -> str:
    """The signature a host page's server puts in `data-customer-signature`."""
    message = canonical_string_v2(
        customer_id=customer_id, name=name, email=email, company=company, vip=vip, expires=expires
    )
    return _hmac(secret, message)


def verify(
    secret: str,
    claimed: ClaimedIdentity,
    *,
    now: datetime | None = None,
    v1_until: date | None = None,
) -> CustomerIdentity:
    """The identity to store: verified when signed correctly, anonymous-with-hints when unsigned.

    Raises IdentityRejected for a signature that does not match, has expired, or cannot be
    checked, and for a v1 signature after `v1_until`.
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
    fields = [claimed.id, claimed.name or "", claimed.email or "", claimed.company or ""]
    if any("\n" in value or "\r" in value for value in fields):
        raise IdentityRejected("signed customer fields must not contain line breaks")
    now = now or datetime.now(UTC)
    if claimed.expires is None:
        expected = _v1(secret, claimed, now, v1_until)
    else:
        expected = _v2(secret, claimed, now)
    if not hmac.compare_digest(expected, claimed.signature.lower()):
        shape = (
            f"'{CANONICAL_VERSION_V2}\\nid=...\\nname=...\\nemail=...\\ncompany=...\\n"
            "vip=true|false\\nexpires=...'"
        )
        raise IdentityRejected(
            f"the customer signature does not match: sign the canonical string {shape} "
            "with SUPPORTBOT_IDENTITY_SECRET"
        )
    return CustomerIdentity(
        id=claimed.id,
        name=claimed.name,
        email=claimed.email,
        company=claimed.company,
        verified=True,
        vip=claimed.vip,
    )


def _v1(secret: str, claimed: ClaimedIdentity, now: datetime, v1_until: date | None) -> str:
    if v1_until is not None and now.date() > v1_until:
        raise IdentityRejected(
            f"{CANONICAL_VERSION} signatures were accepted until {v1_until.isoformat()}: "
            f"sign {CANONICAL_VERSION_V2}, with an expiry (data-customer-expires)"
        )
    if claimed.company:
        raise IdentityRejected(
            f"a company is signed only in {CANONICAL_VERSION_V2}: add data-customer-expires "
            "and sign the v2 string"
        )
    return sign(
        secret,
        customer_id=claimed.id or "",
        name=claimed.name,
        email=claimed.email,
        vip=claimed.vip,
    )


def _v2(secret: str, claimed: ClaimedIdentity, now: datetime) -> str:
    expires = claimed.expires or 0
    if expires <= now.timestamp():
        at = datetime.fromtimestamp(expires, UTC).isoformat()
        raise IdentityRejected(f"the signed identity expired at {at}: sign it again")
    if expires > now.timestamp() + IDENTITY_MAX_LIFETIME_S:
        raise IdentityRejected(
            f"the signed identity expires too far ahead: at most {IDENTITY_MAX_LIFETIME_S} "
            "seconds from now"
        )
    return sign_v2(
        secret,
        customer_id=claimed.id or "",
        expires=expires,
        name=claimed.name,
        email=claimed.email,
        company=claimed.company,
        vip=claimed.vip,
    )


def _hmac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
