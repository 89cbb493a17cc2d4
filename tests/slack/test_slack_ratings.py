"""CSAT and NPS in Slack (issue 15): after a resolution the customer gets rating buttons (and
the NPS question when it is due), answered through the fake Slack Web API."""

from __future__ import annotations

from sqlalchemy import select

from bot.channels.slack.actions import COMMENTED, NOT_YOURS, RATED
from bot.channels.slack.blocks import (
    COMMENT_BLOCK,
    COMMENT_INPUT,
    CSAT_DETAILS_VIEW,
    CSAT_PREFIX,
    CSAT_REASON_PREFIX,
    MAX_COMMENT_CHARS,
    NPS_DETAILS_VIEW,
    NPS_PREFIX,
    REASON_BLOCK,
    REASON_INPUT,
    csat_details_view,
)
from bot.storage import Conversation, Csat, Customer, NpsSurvey
from tests.slack.kit import (
    block_action,
    buttons,
    dm,
    running,
    select_input,
    slack_settings,
    text_input,
    view_submission,
    wait_for,
)


def ephemerals(fake, user: str) -> list[str]:
    return [p["text"] for p in fake.accepted("chat.postEphemeral") if p["user"] == user]


def prompt(fake, channel: str, prefix: str) -> dict:
    """The latest post in `channel` with a button whose action id starts with `prefix`."""
    found = [p for p in fake.posts(channel) if any(k.startswith(prefix) for k in buttons(p))]
    assert found, f"no post with {prefix} buttons in {channel}"
    return found[-1]


async def test_csat_with_reason_and_nps_through_slack_buttons(tmp_path, fake_slack, fake_embedder):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'ratings.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        await slack.deliver(dm("U1", "How do I export my data?"))
        await slack.settle()
        await slack.deliver(dm("U1", "thanks, bye"))
        await slack.settle()
        with slack.bot.db.read() as session:
            conversation = session.scalars(select(Conversation)).one()
            assert conversation.status == "resolved"
            customer = session.get(Customer, conversation.customer_ref)
            assert customer.slack_user_id == "U1"

        rating = prompt(fake_slack, "D_U1", CSAT_PREFIX)
        value = buttons(rating)[f"{CSAT_PREFIX}2"]["value"]
        # Only the customer may answer.
        await slack.click(
            block_action("U2", f"{CSAT_PREFIX}5", value, channel="D_U1", message=rating)
        )
        await wait_for(lambda: len(ephemerals(fake_slack, "U2")) == 1)
        await slack.click(
            block_action("U1", f"{CSAT_PREFIX}2", value, channel="D_U1", message=rating)
        )
        await wait_for(
            lambda: "Thanks for rating this conversation!" in ephemerals(fake_slack, "U1")
        )
        reason = f"{CSAT_REASON_PREFIX}too_slow"
        await slack.click(block_action("U1", reason, value, channel="D_U1", message=rating))
        await wait_for(lambda: "Thanks for the feedback!" in ephemerals(fake_slack, "U1"))

        question = prompt(fake_slack, "D_U1", NPS_PREFIX)
        nps_value = buttons(question)[f"{NPS_PREFIX}8"]["value"]
        await slack.click(
            block_action("U1", f"{NPS_PREFIX}8", nps_value, channel="D_U1", message=question)
        )
        await wait_for(lambda: "Thanks for your answer!" in ephemerals(fake_slack, "U1"))

        with slack.bot.db.read() as session:
            [csat] = session.scalars(select(Csat)).all()
            assert (csat.rating, csat.reason) == (2, "too_slow")
            [survey] = session.scalars(select(NpsSurvey)).all()
            assert (survey.score, survey.channel) == (8, "slack")
            assert survey.shown_at == survey.asked_at  # posted with the rating buttons

        # A second conversation the same quarter: rated again, but no NPS question.
        await slack.deliver(dm("U1", "Where can I download my invoices?"))
        await slack.settle()
        await slack.deliver(dm("U1", "thanks, bye"))
        await slack.settle()
        nps_posts = [
            p for p in fake_slack.posts("D_U1") if any(k.startswith(NPS_PREFIX) for k in buttons(p))
        ]
        csat_posts = [
            p
            for p in fake_slack.posts("D_U1")
            if any(k.startswith(CSAT_PREFIX) for k in buttons(p))
        ]
        assert (len(csat_posts), len(nps_posts)) == (2, 1)


async def test_a_slack_users_verified_email_joins_their_web_customer_record(
    tmp_path, fake_slack, fake_embedder
):
    from bot.storage import customers

    fake_slack.emails["U7"] = "Ada@Example.com"
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'email.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        with slack.bot.db.write() as session:
            web = customers.resolve_customer(
                session, keys=customers.CustomerKeys(external_id="ada-1", email="ada@example.com")
            )
            web_id = web.id
        await slack.deliver(dm("U7", "How do I export my data?"))
        await slack.deliver(dm("U8", "How do I export my data?"))  # no e-mail: its own record
        await slack.settle()
        with slack.bot.db.read() as session:
            refs = {c.customer_id: c.customer_ref for c in session.scalars(select(Conversation))}
            assert refs["U7"] == web_id and refs["U8"] != web_id
            record = session.get(Customer, web_id)
            assert (record.external_id, record.slack_user_id) == ("ada-1", "U7")


def blocks_of(view: dict) -> set[str]:
    return {b.get("block_id") for b in view["blocks"] if b.get("type") == "input"}


async def test_a_low_rating_and_an_nps_answer_carry_a_reason_and_comment_from_a_modal(
    tmp_path, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'details.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        await slack.deliver(dm("U1", "How do I export my data?"))
        await slack.settle()
        await slack.deliver(dm("U1", "thanks, bye"))
        await slack.settle()
        rating = prompt(fake_slack, "D_U1", CSAT_PREFIX)
        assert not any(k.startswith(CSAT_REASON_PREFIX) for k in buttons(rating))  # modal asks
        value = buttons(rating)[f"{CSAT_PREFIX}2"]["value"]
        click = block_action("U1", f"{CSAT_PREFIX}2", value, channel="D_U1", message=rating)
        await slack.click(click)
        await wait_for(lambda: len(fake_slack.accepted("views.open")) == 1)
        opened = fake_slack.accepted("views.open")[0]
        assert opened["trigger_id"] == click["trigger_id"]
        modal = opened["view"]
        assert modal["callback_id"] == CSAT_DETAILS_VIEW
        assert blocks_of(modal) == {REASON_BLOCK, COMMENT_BLOCK}  # a rating of 2 asks why

        # Too long a comment: Slack shows the error in the modal; nothing is stored.
        answer = select_input(REASON_BLOCK, REASON_INPUT, "too_slow") | text_input(
            COMMENT_BLOCK, COMMENT_INPUT, "x" * (MAX_COMMENT_CHARS + 1)
        )
        response = await slack.click(view_submission("U1", modal, answer))
        assert response.status_code == 200
        assert response.json()["response_action"] == "errors"
        assert set(response.json()["errors"]) == {COMMENT_BLOCK}
        # A reason that was never offered is refused the same way.
        forged = select_input(REASON_BLOCK, REASON_INPUT, "drop_table")
        response = await slack.click(view_submission("U1", modal, forged))
        assert set(response.json()["errors"]) == {REASON_BLOCK}
        # Someone else cannot add to the customer's rating.
        good = select_input(REASON_BLOCK, REASON_INPUT, "too_slow") | text_input(
            COMMENT_BLOCK, COMMENT_INPUT, "  It took ages\x07 to get an answer.  "
        )
        response = await slack.click(view_submission("U2", modal, good))
        assert response.status_code == 200 and not response.content
        await wait_for(lambda: NOT_YOURS in ephemerals(fake_slack, "U2"))
        with slack.bot.db.read() as session:
            [csat] = session.scalars(select(Csat)).all()
            assert (csat.rating, csat.reason, csat.comment) == (2, None, None)

        await slack.click(view_submission("U1", modal, good))
        await wait_for(lambda: COMMENTED in ephemerals(fake_slack, "U1"))
        with slack.bot.db.read() as session:
            [csat] = session.scalars(select(Csat)).all()
            assert (csat.rating, csat.reason, csat.comment) == (
                2,
                "too_slow",
                "It took ages to get an answer.",
            )
        # Sent again (a double submit): the first comment stays.
        again = text_input(COMMENT_BLOCK, COMMENT_INPUT, "second thoughts")
        await slack.click(view_submission("U1", modal, again))
        await wait_for(lambda: "this rating already has a comment." in ephemerals(fake_slack, "U1"))
        with slack.bot.db.read() as session:
            assert session.scalars(select(Csat)).one().comment == "It took ages to get an answer."

        question = prompt(fake_slack, "D_U1", NPS_PREFIX)
        nps_value = buttons(question)[f"{NPS_PREFIX}4"]["value"]
        await slack.click(
            block_action("U1", f"{NPS_PREFIX}4", nps_value, channel="D_U1", message=question)
        )
        await wait_for(lambda: len(fake_slack.accepted("views.open")) == 2)
        nps_modal = fake_slack.accepted("views.open")[1]["view"]
        assert nps_modal["callback_id"] == NPS_DETAILS_VIEW
        assert blocks_of(nps_modal) == {COMMENT_BLOCK}
        comment = text_input(COMMENT_BLOCK, COMMENT_INPUT, "Search never finds anything")
        await slack.click(view_submission("U1", nps_modal, comment))
        await wait_for(lambda: ephemerals(fake_slack, "U1").count(COMMENTED) == 2)
        with slack.bot.db.read() as session:
            survey = session.scalars(select(NpsSurvey)).one()
            assert (survey.score, survey.comment) == (4, "Search never finds anything")


async def test_a_good_rating_offers_only_a_comment_and_a_lost_trigger_loses_no_rating(
    tmp_path, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'trigger.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        await slack.deliver(dm("U1", "How do I export my data?"))
        await slack.settle()
        await slack.deliver(dm("U1", "thanks, bye"))
        await slack.settle()
        rating = prompt(fake_slack, "D_U1", CSAT_PREFIX)
        value = buttons(rating)[f"{CSAT_PREFIX}5"]["value"]
        fake_slack.fail("views.open", "expired_trigger_id")
        await slack.click(
            block_action("U1", f"{CSAT_PREFIX}5", value, channel="D_U1", message=rating)
        )
        await wait_for(lambda: RATED in ephemerals(fake_slack, "U1"))
        with slack.bot.db.read() as session:
            assert session.scalars(select(Csat)).one().rating == 5
        assert fake_slack.count("views.open") == 1 and not fake_slack.accepted("views.open")
    view = csat_details_view(
        conversation_id="c", resolution=1, rating=5, channel="D_U1", thread_ts=None
    )
    assert blocks_of(view) == {COMMENT_BLOCK}


async def test_a_slack_rating_reaches_the_console_feed_of_the_conversation(
    tmp_path, fake_slack, fake_embedder
):
    import asyncio

    from bot.events import agent_topic

    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'live.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        await slack.deliver(dm("U1", "How do I export my data?"))
        await slack.settle()
        await slack.deliver(dm("U1", "thanks, bye"))
        await slack.settle()
        with slack.bot.db.read() as session:
            conversation_id = session.scalars(select(Conversation)).one().id
        rating = prompt(fake_slack, "D_U1", CSAT_PREFIX)
        value = buttons(rating)[f"{CSAT_PREFIX}4"]["value"]
        async with slack.bot.bus.subscribe(agent_topic(conversation_id)) as events:
            feed = aiter(events)
            await slack.click(
                block_action("U2", f"{CSAT_PREFIX}1", value, channel="D_U1", message=rating)
            )  # not the customer: nothing recorded, nothing announced
            await slack.click(
                block_action("U1", f"{CSAT_PREFIX}4", value, channel="D_U1", message=rating)
            )
            event = await asyncio.wait_for(anext(feed), timeout=10)
        assert event == {"type": "csat", "rating": 4, "comment": None}
