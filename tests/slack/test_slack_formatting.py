"""Pure parts of the Slack channel: routing, Block Kit, text conversion, retry pacing."""

from __future__ import annotations

import pytest

from bot.channels.slack import SlackOptions
from bot.channels.slack.blocks import (
    CLAIM,
    HANDOFF,
    HELPFUL,
    NOT_HELPFUL,
    OPEN_CONSOLE,
    EscalationView,
    customer_message,
    escalation_message,
    from_mrkdwn,
    parse_message_ref,
    split_note,
    to_mrkdwn,
)
from bot.channels.slack.routing import RouteKind, message_key, route

BOT = "U_BOT"


def message(**fields):
    return {"type": "message", "user": "U1", "text": "hello", "ts": "2.0", **fields}


@pytest.mark.parametrize(
    ("event", "kind", "address", "mentioned"),
    [
        (message(channel="D1", channel_type="im"), RouteKind.DM, "D1", False),
        (message(channel="D1", channel_type="im", thread_ts="1.0"), RouteKind.DM, "D1", False),
        (message(channel="C1", channel_type="channel"), RouteKind.IGNORE, None, False),
        (message(channel="C1", thread_ts="1.0"), RouteKind.THREAD, "C1/1.0", False),
        (message(channel="C1", text=f"<@{BOT}> hi"), RouteKind.THREAD, "C1/2.0", True),
        ({**message(channel="C1"), "type": "app_mention"}, RouteKind.THREAD, "C1/2.0", True),
        (message(channel="C_CME", thread_ts="1.0"), RouteKind.CME_REPLY, "C_CME/1.0", False),
        (message(channel="C_CME"), RouteKind.IGNORE, None, False),
        (message(channel="D1", user=BOT), RouteKind.IGNORE, None, False),
        (message(channel="D1", bot_id="B9"), RouteKind.IGNORE, None, False),
        (message(channel="D1", subtype="message_changed"), RouteKind.IGNORE, None, False),
        (message(channel="D1", user=None), RouteKind.IGNORE, None, False),
        ({"type": "reaction_added", "user": "U1"}, RouteKind.IGNORE, None, False),
    ],
)
def test_route_sends_each_message_to_its_conversation(event, kind, address, mentioned):
    target = route(event, bot_user_id=BOT, cme_channel="C_CME")
    assert (target.kind, target.address, target.mentioned) == (kind, address, mentioned)


def test_route_strips_the_apps_mention_but_keeps_cme_text_verbatim():
    customer = route(
        message(channel="C1", text=f"<@{BOT}>  reset   password"),
        bot_user_id=BOT,
        cme_channel="C_CME",
    )
    assert customer.text == "reset password"
    cme = route(
        message(channel="C_CME", thread_ts="1.0", text=" note: <@U2> said hi "),
        bot_user_id=BOT,
        cme_channel="C_CME",
    )
    assert cme.text == "note: <@U2> said hi"


def test_message_key_is_shared_by_mention_and_message_events():
    mention = {"type": "app_mention", "channel": "C1", "ts": "5.0"}
    assert message_key(mention) == message_key({**mention, "type": "message"}) == "C1:5.0"


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        (
            "Source: [Reset › Email](https://x.test/kb/a)",
            "Source: <https://x.test/kb/a|Reset › Email>",
        ),
        ("Open **Settings > Billing**", "Open *Settings &gt; Billing*"),
        ("## Steps\n1 < 2 & 3", "*Steps*\n1 &lt; 2 &amp; 3"),
        ("[a|b](https://x.test/?q=1&r=2)", "<https://x.test/?q=1&amp;r=2|a¦b>"),
        (
            "| Plan | Price |\n|:--|--:|\n| **Pro** | $24 |\n| Team | a \\| b |",
            "• *Pro* · Price: $24\n• *Team* · Price: a | b",
        ),
        ("| a | b |\n| no delimiter |", "| a | b |\n| no delimiter |"),
        ("- one\n  * two", "• one\n  • two"),
        ("```\n- not a list\n```", "```\n- not a list\n```"),
    ],
)
def test_markdown_becomes_slack_mrkdwn(markdown, mrkdwn):
    assert to_mrkdwn(markdown) == mrkdwn


@pytest.mark.parametrize(
    ("slack", "stored"),
    [
        ("see <https://x.test/r|receipt>", "see [receipt](https://x.test/r)"),
        ("see <https://x.test/r>", "see https://x.test/r"),
        ("ask <@U123|sam> &amp; <#C1|help>", "ask sam & help"),
        ("1 &lt; 2", "1 < 2"),
    ],
)
def test_slack_markup_is_stored_as_plain_markdown(slack, stored):
    assert from_mrkdwn(slack) == stored


def test_control_characters_in_a_slack_message_are_dropped():
    # PostgreSQL refuses NUL in text columns; the message is kept without them.
    assert from_mrkdwn("where\x00 is my\x1b refund?\n\tthanks") == "where is my refund?\n\tthanks"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("note: VIP", ("VIP", True)),
        ("  NOTE:  check billing ", ("check billing", True)),
        ("Notes are attached", ("Notes are attached", False)),
        ("Hi there", ("Hi there", False)),
    ],
)
def test_note_prefix_keeps_a_reply_internal(text, expected):
    assert split_note(text) == expected


@pytest.mark.parametrize(
    ("role", "action", "cited", "expected"),
    [
        ("bot", "answer", True, [HELPFUL, NOT_HELPFUL, HANDOFF]),
        ("bot", "clarify", False, [HANDOFF]),
        ("bot", "small_talk", False, []),
        ("bot", "escalate", False, []),
        ("agent", None, False, []),
        ("system", None, False, []),
    ],
)
def test_only_answers_and_clarifications_carry_buttons(role, action, cited, expected):
    content = customer_message(
        conversation_id="c1",
        seq=4,
        role=role,
        text="text",
        action=action,
        has_citation=cited,
        author="Alex",
    )
    found = [
        e["action_id"] for b in content["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert found == expected
    for block in content["blocks"]:
        for element in block.get("elements", []):
            assert parse_message_ref(element["value"]) == ("c1", 4)


@pytest.mark.parametrize(
    ("status", "claimable"), [("waiting", True), ("agent", False), ("resolved", False)]
)
def test_escalation_post_offers_claim_only_while_waiting(status, claimable):
    view = EscalationView(
        conversation_id="c1",
        customer="Sam <admin>",
        channel="slack",
        reasons=["asked for a person"],
        main_question="How do I reset?",
        latest_message="now!",
        status=status,
        owner="Alex",
        console_url="https://sb.test/console/conversations/c1",
    )
    content = escalation_message(view)
    elements = {e["action_id"]: e for e in content["blocks"][-1]["elements"]}
    assert (CLAIM in elements) is claimable
    assert elements[OPEN_CONSOLE]["url"] == "https://sb.test/console/conversations/c1"
    assert "Sam &lt;admin&gt;" in content["blocks"][1]["text"]["text"]


@pytest.mark.parametrize(
    ("options", "retry_after", "sleep"),
    [
        (SlackOptions(), 3.0, 3.0),
        (SlackOptions(), None, 1.0),
        (SlackOptions(retry_after_scale=0.02), 1.0, 0.02),
        (SlackOptions(max_retry_sleep_s=30), 600.0, 30.0),
        (SlackOptions(min_retry_sleep_s=0.5, retry_after_scale=0.01), 1.0, 0.5),
    ],
)
def test_rate_limit_sleep_honours_retry_after_within_bounds(options, retry_after, sleep):
    assert options.retry_sleep(retry_after) == pytest.approx(sleep)


def test_manifest_subscribes_to_what_the_app_handles():
    import yaml

    from bot.channels.slack.blocks import NOTE_SHORTCUT
    from bot.channels.slack.channel import EVENTS_PATH
    from tests.utils import REPO

    manifest = yaml.safe_load((REPO / "slack_manifest.yaml").read_text())
    settings = manifest["settings"]
    assert {"app_mention", "message.im", "message.channels"} <= set(
        settings["event_subscriptions"]["bot_events"]
    )
    assert settings["event_subscriptions"]["request_url"].endswith(EVENTS_PATH)
    assert settings["interactivity"]["request_url"].endswith(EVENTS_PATH)
    assert [s["callback_id"] for s in manifest["features"]["shortcuts"]] == [NOTE_SHORTCUT]
    assert {"chat:write", "users:read", "im:history", "commands"} <= set(
        manifest["oauth_config"]["scopes"]["bot"]
    )


def test_test_kit_signs_requests_as_slack_does():
    from slack_sdk.signature import SignatureVerifier

    from tests.slack.kit import SIGNING_SECRET, sign

    body = b'{"type":"event_callback"}'
    headers = sign(body)
    assert SignatureVerifier(SIGNING_SECRET).is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


def test_escalation_notification_text_escapes_what_the_visitor_wrote():
    view = EscalationView(
        conversation_id="c1",
        customer="<!channel> Sam",
        channel="web",
        reasons=[],
        main_question="see <https://evil.example|https://bank.example/login> <!here>",
        latest_message=None,
        status="waiting",
        owner=None,
        console_url="https://sb.test/console/conversations/c1",
    )
    text = escalation_message(view)["text"]
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt; Sam" in text and "&lt;!here&gt;" in text
