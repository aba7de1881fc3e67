"""What a test does when a service it needs is not installed: on a user's machine it skips,
naming the one command that installs everything; in CI (CI=true) it fails, since CI must run
every test."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

INSTALL_COMMAND = "sudo scripts/install-test-deps.sh"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(message: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"{message}; CI installs it with {INSTALL_COMMAND} (.ci/run)")
    pytest.skip(f"{message}; install what the tests need with: {INSTALL_COMMAND}")
