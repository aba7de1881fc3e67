"""A test that needs an external service skips on a user's machine without it, and fails in CI."""

from __future__ import annotations

import pytest

from ioc.broker import free_port
from tests.conftest import require_service


def test_an_unreachable_service_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must provide it"):
        require_service("PostgreSQL", "127.0.0.1", free_port())


def test_an_unreachable_service_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="is not reachable"):
        require_service("PostgreSQL", "127.0.0.1", free_port())


def test_a_reachable_service_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        monkeypatch.setenv("CI", "true")
        require_service("a listener", "127.0.0.1", sock.getsockname()[1])
