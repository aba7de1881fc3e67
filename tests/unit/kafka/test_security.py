"""Kafka client security from the settings: what each client library is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioc.kafka.security import KafkaSecurity
from ioc.settings import Settings, SettingsError, load_settings


def test_plaintext_gives_no_options(settings: Settings) -> None:
    security = KafkaSecurity.from_settings(settings)
    assert security.aiokafka() == {}
    assert security.kafka_python() == {}
    assert security.faust() is None


def test_sasl_scram_reaches_every_client_library(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOC_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("IOC_SASL_USERNAME", "worker")
    monkeypatch.setenv("IOC_SASL_PASSWORD", "s3cret")
    settings, _ = load_settings(None, {})
    assert "s3cret" not in repr(settings), "the password never shows in a repr or a log"
    security = KafkaSecurity.from_settings(settings)
    want = {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "worker",
        "sasl_plain_password": "s3cret",
    }
    assert security.aiokafka() == want
    assert security.kafka_python() == want
    credentials = security.faust()
    assert (credentials.username, credentials.password) == ("worker", "s3cret")
    assert credentials.mechanism.value == "SCRAM-SHA-512"


def test_sasl_without_a_user_is_refused(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(SettingsError, match="IOC_SASL_USERNAME"):
        load_settings(None, {})
