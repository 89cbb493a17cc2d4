"""Claim races on real databases: exactly one winner, and the bot never talks over a human."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bot.conversation import handle_customer_message, handoff, request_handoff
from bot.runtime import Bot
from bot.storage import Message, Role, store
from embedding import FakeEmbedder
from escalation import HandoffConflict, Status
from tests.utils import make_client, make_cmes, make_settings, start_conversation

CLAIMERS = 50
TRIALS = 200


class GatedEmbedder(FakeEmbedder):
    """Blocks inside the model step until released, to hold a turn mid-flight."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def encode(self, texts):
        self.entered.set()
        self.release.wait(10)
        return super().encode(texts)


@pytest.fixture
def running_bot(tmp_path, database_url):
    embedder = GatedEmbedder()
    bot = Bot.build(make_settings(tmp_path, database_url), embedder=embedder)
    bot.start_sync()
    with bot.db.write() as session:
        users = [user for user, _ in make_cmes(session, CLAIMERS)]
    yield bot, users, embedder
    bot.embedder.close()
    bot.db.dispose()


def _waiting_conversation(bot: Bot) -> str:
    with bot.db.write() as session:
        conversation, _ = store.create_conversation(session)
        return conversation.id


async def _claim_race(bot: Bot, users) -> list[object]:
    conversation_id = _waiting_conversation(bot)
    await request_handoff(bot, conversation_id=conversation_id)
    start = asyncio.Event()

    async def contender(user):
        await start.wait()
        return await handoff.claim(bot, conversation_id=conversation_id, user=user)

    tasks = [asyncio.create_task(contender(user)) for user in users]
    await asyncio.sleep(0)
    start.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


def test_fifty_simultaneous_claims_have_exactly_one_winner_in_every_trial(running_bot):
    bot, users, _ = running_bot

    async def trials():
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(CLAIMERS + 8))
        for trial in range(TRIALS):
            outcomes = await _claim_race(bot, users)
            winners = [o for o in outcomes if not isinstance(o, BaseException)]
            unexpected = [
                o
                for o in outcomes
                if isinstance(o, BaseException) and not isinstance(o, HandoffConflict)
            ]
            assert not unexpected, f"trial {trial}: {unexpected[:3]}"
            assert len(winners) == 1, f"trial {trial}: {len(winners)} winners"
            assert winners[0].status == Status.AGENT

    asyncio.run(trials())


def test_turn_in_flight_when_claimed_adds_no_bot_message(running_bot):
    bot, users, embedder = running_bot

    async def scenario():
        for _ in range(10):
            conversation_id = _waiting_conversation(bot)
            embedder.entered.clear()
            embedder.release.clear()
            turn = asyncio.create_task(
                handle_customer_message(
                    bot, conversation_id=conversation_id, text="Where are my invoices?"
                )
            )
            await asyncio.to_thread(embedder.entered.wait, 5)
            await request_handoff(bot, conversation_id=conversation_id)
            claimed = await handoff.claim(bot, conversation_id=conversation_id, user=users[0])
            embedder.release.set()
            result = await turn
            assert result.reply is None
            assert result.status == Status.AGENT
            with bot.db.read() as session:
                after_claim = (
                    session.query(Message)
                    .filter(
                        Message.conversation_id == conversation_id,
                        Message.seq > claimed.message.seq,
                        Message.role == Role.BOT,
                    )
                    .count()
                )
                scored = store.get_message(session, conversation_id=conversation_id, seq=1).scores
            assert after_claim == 0
            assert scored is not None  # the customer's turn is still scored for the CME

    asyncio.run(scenario())


def test_concurrent_claims_over_http_give_one_200_and_409s_never_500(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url)
    with make_client(settings, FakeEmbedder()) as client:
        bot = client.app.state.bot
        with bot.db.write() as session:
            tokens = [token for _, token in make_cmes(session, CLAIMERS)]
        conversation_id, headers = start_conversation(client)
        client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)

    async def race():
        app = client.app
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await asyncio.gather(
                    *(
                        http.post(
                            f"/api/cme/conversations/{conversation_id}/claim",
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        for token in tokens
                    )
                )

    responses = asyncio.run(race())
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * (CLAIMERS - 1), codes
    assert all("claimed" in r.json()["detail"] for r in responses if r.status_code == 409)
