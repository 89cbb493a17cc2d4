"""Conversations: the one pipeline a customer turn runs through, every handoff operation, how
conversations end on their own, what the bot says, and the replay benchmark.

    bot.conversation.pipeline.handle_customer_message   one customer turn, end to end
    bot.conversation.handoff                             request / withdraw / claim / reply / ...
    bot.conversation.lifecycle                           the idle rule and its sweep
"""

from bot.conversation.handoff import (
    Change,
    agent_message,
    claim,
    hand_back,
    release,
    request_handoff,
    resolve,
    set_vip,
    transfer,
    withdraw,
)
from bot.conversation.pipeline import PipelineError, TurnResult, handle_customer_message
from bot.conversation.summary import Summary, summarize

__all__ = [
    "Change",
    "PipelineError",
    "Summary",
    "TurnResult",
    "agent_message",
    "claim",
    "hand_back",
    "handle_customer_message",
    "release",
    "request_handoff",
    "resolve",
    "set_vip",
    "summarize",
    "transfer",
    "withdraw",
]
