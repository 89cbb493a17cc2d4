"""schemathesis over the OpenAPI document (issue 14): generated requests, valid and invalid, as
each principal (a customer's conversation token, a CME's token, the admin token or no
credentials) get no server error and pass every schemathesis check: status code, content type,
headers and body schema as documented, invalid requests refused, valid ones accepted, requests
without credentials refused.

`make test` runs 3,600 cases; `make fuzz` (SUPPORTBOT_FUZZ_CASES=10000) the larger run, and
SUPPORTBOT_FUZZ_DATABASE=postgresql runs either against PostgreSQL."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from tests.fuzz.conftest import CASES, FuzzServer, count_case
from tests.utils import ADMIN_TOKEN

TOTAL_CASES = int(os.environ.get("SUPPORTBOT_FUZZ_CASES", "3600"))
# `make test` runs the same cases every time; `make fuzz` (SUPPORTBOT_FUZZ_RANDOM=1) new ones.
RANDOM = os.environ.get("SUPPORTBOT_FUZZ_RANDOM") == "1"
# Each principal's share of the cases, split evenly between valid and invalid requests.
SHARES = {"customer": 0.4, "cme": 0.4, "anonymous": 0.2}
# What each principal calls: its own API (the anonymous visitor calls everything).
TAGS = {"customer": "customer", "cme": "cme", "anonymous": None}

# Where a case names a conversation: one that exists (the caller's own, or another in some
# status), or what schemathesis generated.
targets = st.sampled_from(["own", "existing", "generated"])
picks = st.integers(min_value=0, max_value=10)


def valid(case, location: ParameterLocation) -> bool:
    """Whether schemathesis generated this part of the case valid (an invalid part stays)."""
    component = case.meta.components.get(location) if case.meta else None
    return component is None or component.mode == GenerationMode.POSITIVE


def aim(case, server: FuzzServer, target: str, pick: int) -> None:
    """Point the case at things that exist when `target` says so: a conversation, a CME."""
    if target == "generated":
        return
    path_parameters = case.path_parameters or {}
    if "conversation_id" in path_parameters and valid(case, ParameterLocation.PATH):
        conversations = server.conversations if target == "existing" else server.conversations[:1]
        path_parameters["conversation_id"] = conversations[pick % len(conversations)]
    body = case.body
    if isinstance(body, dict) and "to_user_id" in body and valid(case, ParameterLocation.BODY):
        body["to_user_id"] = server.cme_ids[pick % len(server.cme_ids)]


def sniffed(case) -> bool:
    """An upload: whether its file may be attached depends on its bytes (sniffed, so refused with
    400/415 whatever the schema says), which no OpenAPI schema can describe; and a multipart
    part has no JSON type (a "file" of integer 0 is the one-byte file "0")."""
    return case.method.upper() == "POST" and case.path.endswith("/attachments")


def credentials(principal: str, server: FuzzServer, case) -> dict[str, str]:
    """The principal's bearer token, unless the case is about a missing or broken one."""
    token = {
        "customer": server.customer_token,
        "cme": server.cme_token,
        "anonymous": ADMIN_TOKEN if case.path.startswith("/api/admin/") else None,
    }[principal]
    if token is None or not valid(case, ParameterLocation.HEADER):
        return {}
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("principal", list(SHARES))
def test_generated_requests_get_documented_answers(fuzz_server, principal, mode):
    schema = fuzz_server.schema
    if TAGS[principal]:
        schema = schema.include(tag=TAGS[principal])

    examples = max(1, round(TOTAL_CASES * SHARES[principal] / 2))
    before = CASES[principal]

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=not RANDOM,
    )
    @given(case=schema.as_strategy(generation_mode=mode), target=targets, pick=picks)
    def run(case, target, pick):
        aim(case, fuzz_server, target, pick)
        headers = credentials(principal, fuzz_server, case)
        excluded = [positive_data_acceptance, negative_data_rejection] if sniffed(case) else None
        response = case.call_and_validate(headers=headers, excluded_checks=excluded)
        count_case(principal, response.status_code)

    run()
    # Every example was a request: the counts in the summary are what ran.
    assert CASES[principal] - before >= examples
