"""The console's API against its own OpenAPI document, by Schemathesis: generated requests to
every operation (valid and invalid ones) of a real console with a real store, as an operator;
no answer is a server error, and every answer matches its documented status, media type and
schema. The live event stream is left out: it never ends."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.test_console_api import Setup, setup  # noqa: F401  (the module's console)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api_schema(setup: Setup) -> Any:  # noqa: F811
    schema = schemathesis.openapi.from_url(f"{setup.console.url}/api/openapi.json")
    return schema.exclude(path="/api/events")


contract = schemathesis.pytest.from_fixture("api_schema")


@contract.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_keeps_its_contract(case: Any, setup: Setup) -> None:  # noqa: F811
    case.call_and_validate(headers={"Authorization": f"Bearer {setup.tokens['operator']}"})
