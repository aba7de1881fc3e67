"""The console's API against its own OpenAPI document, by Schemathesis: generated requests to
every operation (valid and invalid ones) of a real console with a real store, as an operator;
no answer is a server error, and every answer matches its documented status, media type and
schema. The live event stream is left out: it never ends. So is the check that every
schema-valid request is accepted: a cursor is opaque (a string the API gave, not any string)
and a bounding box must have west ≤ east, which the schema cannot say; those get a 422
problem document, which the other checks still hold to the contract."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.harness.consoles import Setup

pytestmark = pytest.mark.integration
EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def operations(setup: Setup) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{setup.console.url}/api/openapi.json")
    found = [result.ok() for result in schema.exclude(path="/api/events").get_all_operations()]
    assert len(found) >= 12
    return found


def test_every_operation_keeps_its_contract(setup: Setup, operations: list[Any]) -> None:
    headers = {"Authorization": f"Bearer {setup.tokens['operator']}"}

    @settings(
        max_examples=EXAMPLES_PER_OPERATION * len(operations),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        operation = data.draw(st.sampled_from(operations))
        case = data.draw(operation.as_strategy())
        case.call_and_validate(
            base_url=setup.console.url, headers=headers, excluded_checks=[positive_data_acceptance]
        )

    check()
