"""Conversations: the one pipeline a customer turn runs through, every handoff operation, how
conversations end on their own, what the bot says, and the replay benchmark.

    bot.conversation.pipeline.handle_customer_message   one customer turn, end to end
    bot.conversation.handoff                             request / withdraw / claim / reply / ...
    bot.conversation.lifecycle                           the idle rule and its sweep
    bot.conversation.erasure                             erase a customer, with a receipt
"""

from bot.conversation.erasure import ErasureReceipt, erase_customer, erase_record
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
from bot.conversation.summary import Summary, suggestion_query, summarize
from bot.conversation.waiting import Wait, leave_email, wait_for

__all__ = [
    "Change",
    "ErasureReceipt",
    "PipelineError",
    "Summary",
    "TurnResult",
    "Wait",
    "agent_message",
    "claim",
    "erase_customer",
    "erase_record",
    "hand_back",
    "leave_email",
    "handle_customer_message",
    "release",
    "request_handoff",
    "resolve",
    "set_vip",
    "suggestion_query",
    "summarize",
    "transfer",
    "wait_for",
    "withdraw",
]
