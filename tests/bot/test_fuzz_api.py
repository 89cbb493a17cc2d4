"""Generated requests against the customer API (hypothesis): no server errors, and every answer
is documented in the OpenAPI document with a body that fits it. Bounded for `make test`; raise
SUPPORTBOT_FUZZ_EXAMPLES for a longer run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embedding import FakeEmbedder
from tests.bot.test_openapi import conforms
from tests.utils import make_client, make_settings, start_conversation

EXAMPLES = int(os.environ.get("SUPPORTBOT_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
texts = st.text(max_size=300) | st.sampled_from(["\x00", " \t ", "x" * 4001, "How do I export?"])
ids = st.none() | st.text(max_size=120) | st.sampled_from(["m-1", "é-1", "a" * 101])
big_ints = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from([0, 1, 2**31, 2**63])


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    settings_ = make_settings(
        tmp, f"sqlite:///{tmp / 'fuzz.db'}", rate_limit_enabled=False, identity_secret="fuzz"
    )
    with make_client(settings_, FakeEmbedder()) as client:
        conversation_id, headers = start_conversation(client)
        yield client, conversation_id, headers


@FUZZ
@given(
    body=json_values
    | st.fixed_dictionaries({"text": texts}, optional={"client_msg_id": ids, "extra": json_values})
)
def test_generated_messages_get_no_server_error(api, body):
    client, conversation_id, headers = api
    response = client.post(
        f"/api/conversations/{conversation_id}/messages", json=body, headers=headers
    )
    assert response.status_code < 500, response.text
    conforms(client, response)


@FUZZ
@given(
    feedback=st.fixed_dictionaries({"seq": big_ints, "helpful": st.booleans() | json_values}),
    csat=st.fixed_dictionaries({"rating": big_ints}, optional={"comment": texts | json_values}),
    after=big_ints,
)
def test_generated_feedback_ratings_and_reads_get_no_server_error(api, feedback, csat, after):
    client, conversation_id, headers = api
    url = f"/api/conversations/{conversation_id}"
    for response in (
        client.post(f"{url}/feedback", json=feedback, headers=headers),
        client.post(f"{url}/csat", json=csat, headers=headers),
        client.get(f"{url}/messages", params={"after": after}, headers=headers),
    ):
        assert response.status_code < 500, response.text
        conforms(client, response)


@FUZZ
@given(
    customer=st.fixed_dictionaries(
        {},
        optional={
            "id": ids,
            "name": texts,
            "email": st.emails() | st.text(max_size=300),
            "company": texts,
            "vip": st.booleans(),
            "expires": big_ints,
            "signature": st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
        },
    )
)
def test_generated_customers_get_no_server_error(api, customer):
    client, _, _ = api
    response = client.post("/api/conversations", json={"customer": customer})
    assert response.status_code < 500, response.text
    conforms(client, response)
