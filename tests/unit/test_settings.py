from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ioc.kafka.topics import topic_specs
from ioc.settings import Settings, SettingsError, load_settings, parse_broker_urls


def test_defaults_use_the_embedded_broker(settings: Settings) -> None:
    assert settings.broker is None
    assert settings.partitions == 4
    assert settings.topic("ioc.alerts") == "ioc.alerts"


@pytest.mark.parametrize(
    ("raw", "servers"),
    [
        ("kafka://k1:9092", ("k1:9092",)),
        ("kafka://k1:9092;kafka://k2:9093", ("k1:9092", "k2:9093")),
        ("k1:9092, k2:9092", ("k1:9092", "k2:9092")),
        ("kafka://[::1]:9092/", ("[::1]:9092",)),
    ],
)
def test_broker_url_lists(raw: str, servers: tuple[str, ...]) -> None:
    assert parse_broker_urls(raw) == servers


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("http://k1:9092", "scheme must be kafka://"),
        ("kafka://k1", "expected kafka://HOST:PORT"),
        ("kafka://k1:99999", "expected kafka://HOST:PORT"),
        (";", "no broker address"),
    ],
)
def test_bad_broker_urls_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_broker_urls(raw)


def test_environment_sets_the_broker(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_BROKER", "kafka://a:1;kafka://b:2")
    settings, sources = load_settings()
    assert settings.broker == ("a:1", "b:2")
    assert settings.broker_url == "kafka://a:1;kafka://b:2"
    assert sources["broker"] == "environment (IOC_BROKER)"


def test_precedence_file_then_environment_then_command_line(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = clean_env / "site.toml"
    config.write_text('[ioc]\npartitions = 8\ntopic_prefix = "lamdong."\nweb_port = 7000\n')
    monkeypatch.setenv("IOC_PARTITIONS", "12")
    settings, sources = load_settings(config, {"web_port": 7100})
    assert settings.partitions == 12
    assert settings.topic_prefix == "lamdong."
    assert settings.web_port == 7100
    assert sources["partitions"].startswith("environment")
    assert sources["topic_prefix"] == f"config file ({config})"
    assert sources["web_port"] == "command line"
    assert sources["app_id"] == "default"


def test_config_file_found_in_the_working_directory(clean_env: Path) -> None:
    (clean_env / "ioc.toml").write_text('app_id = "lamdong-ioc"\n')
    settings, _ = load_settings()
    assert settings.app_id == "lamdong-ioc"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[ioc]\npartitons = 3\n", "unknown setting.*partitons"),
        ("[ioc\n", "not valid TOML"),
        ("[ioc]\npartitions = 0\n", "partitions: Input should be greater than or equal to 1"),
        ('[ioc]\nbroker = "http://x:1"\n', "broker: Value error, broker URL"),
    ],
)
def test_bad_config_files_are_explained(clean_env: Path, content: str, message: str) -> None:
    path = clean_env / "bad.toml"
    path.write_text(content)
    with pytest.raises(SettingsError, match=message):
        load_settings(path)


def test_missing_config_file(clean_env: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(clean_env / "nope.toml")


def test_topic_prefix_applies_to_every_topic(clean_env: Path) -> None:
    settings, _ = load_settings(None, {"topic_prefix": "ld.", "partitions": 6})
    specs = {s.name: s for s in topic_specs(settings)}
    assert all(name.startswith("ld.") for name in specs)
    assert specs["ld.sensors.traffic"].partitions == 6
    assert specs["ld.ioc.incidents"].compacted
    assert specs["ld.ioc.incidents.da-lat"].kafka_configs()["cleanup.policy"] == "compact"
    assert specs["ld.ioc.deadletter"].kafka_configs()["cleanup.policy"] == "delete"
    assert len([n for n in specs if n.startswith("ld.ioc.incidents.")]) == 7


def test_ioc_config_reports_values_and_sources(clean_env: Path) -> None:
    env = {"IOC_DATA_DIR": str(clean_env / "d"), "IOC_PARTITIONS": "9", "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-m", "ioc", "config", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=clean_env,
    )
    shown = json.loads(out.stdout)
    assert shown["partitions"] == {"value": 9, "source": "environment (IOC_PARTITIONS)"}
    assert shown["broker"] == {"value": None, "source": "default"}


def test_ioc_config_rejects_bad_environment_clearly(clean_env: Path) -> None:
    env = {"IOC_BROKER": "nats://x:1", "IOC_DATA_DIR": str(clean_env / "d")}
    out = subprocess.run(
        [sys.executable, "-m", "ioc", "config"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 1
    assert "ioc config: error: invalid settings: broker" in out.stderr
    assert "Traceback" not in out.stderr
