"""What route handlers are given: the bot, the rate limits, and who is calling (a customer's
conversation token, or a CME by API token or console session)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.cme import accounts
from bot.http.ratelimit import RateLimits
from bot.runtime import Bot
from bot.schemas import CONVERSATION_ID_PATTERN
from bot.storage import Unauthorized, User, store
from escalation import Status

# Conversation ids are generated hex: anything else (NUL, kilobytes) is refused before a query.
ConversationId = Annotated[
    str, Path(pattern=CONVERSATION_ID_PATTERN, max_length=64, description="The conversation's id")
]

conversation_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ConversationToken",
    description="The conversation token that POST /api/conversations returned",
)
cme_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="CmeToken",
    description="A CME's API token (`supportbot user add` prints it); the console's pages use "
    "their session cookie and X-CSRF-Token instead",
)


def get_bot(request: Request) -> Bot:
    """The app's Bot (built by `create_app`)."""
    return request.app.state.bot


BotDep = Annotated[Bot, Depends(get_bot)]


def get_rate_limits(request: Request) -> RateLimits:
    """The app's rate limits for anonymous visitors."""
    return RateLimits.of(request.app)


LimitsDep = Annotated[RateLimits, Depends(get_rate_limits)]


def conversation_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(conversation_bearer)],
) -> str:
    """The bearer token of a customer's conversation."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing bearer token: send Authorization: Bearer <conversation token>")
    return credentials.credentials


TokenDep = Annotated[str, Depends(conversation_token)]


async def authorized(bot: Bot, conversation_id: str, token: str) -> Status:
    """The conversation's status, if `token` is its token (else NotFound / Forbidden)."""

    def check() -> Status:
        with bot.db.read() as session:
            conversation = store.authorize(session, conversation_id=conversation_id, token=token)
            return Status(conversation.status)

    return await run_in_threadpool(check)


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(cme_bearer)],
) -> User:
    """The CME making this request: bearer API token, or the console's session cookie."""
    bot = request.app.state.bot
    console = getattr(request.state, "console", None)
    with bot.db.read() as session:
        if credentials is not None and credentials.credentials:
            user = accounts.user_for_token(session, token=credentials.credentials)
            if user is None:
                raise Unauthorized("unknown CME API token")
            return user
        if console is not None:
            user = accounts.user_for_session(
                session, user_id=console.user_id, version=console.version
            )
            if user is not None:
                return user
    raise Unauthorized("sign in, or send Authorization: Bearer <CME API token>")


UserDep = Annotated[User, Depends(current_user)]
