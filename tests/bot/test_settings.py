"""Settings fail fast: a value the server cannot work with is refused at start, not at use."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.settings import Settings


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("idle_resolve_after_s", 10**12),  # now - timedelta(...) overflows in the sweep
        ("sla_first_response_s", 10**12),  # the queue's SLA arithmetic overflows
        ("embed_max_batch", 10**9),
        ("max_unanswered", 10**9),
        ("rate_limit_conversations_per_hour", 10**12),
        ("rate_limit_messages_per_minute", 10**12),
        ("socket_forget_after_s", 1e12),
    ],
)
def test_integer_settings_beyond_their_bound_are_refused(name, value):
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, **{name: value})
    assert name in str(refused.value)
