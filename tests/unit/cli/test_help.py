"""`ioc --help` must teach: every command says what it does, with examples."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ioc.cli import build_parser, command_in, main
from tests.harness.processes import IOC


def _help(*args: str) -> str:
    out = subprocess.run([*IOC, *args, "--help"], capture_output=True, text=True, check=True)
    return out.stdout


def test_top_level_help_lists_commands_and_explains_the_broker() -> None:
    text = _help()
    for command in ("demo", "broker", "worker", "rules", "config"):
        assert f"    {command} " in text
    assert "IOC_BROKER=kafka://HOST:PORT" in text
    assert "Examples:" in text


@pytest.mark.parametrize(
    ("command", "phrases"),
    [
        ("worker", ["/metrics", "/health", "--web-port", "consumer group"]),
        ("broker", ["--port", "in memory", "IOC_BROKER", "Example"]),
        ("demo", ["Ctrl-C"]),
        ("config", ["--json", "environment"]),
        ("rules", ["check", "test", "load", "keeps the set it runs"]),
    ],
)
def test_each_command_explains_itself(command: str, phrases: list[str]) -> None:
    text = _help(command)
    for phrase in phrases:
        assert phrase in text, f"`ioc {command} --help` should mention {phrase!r}"


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "commands:" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["frobnicate"])
    assert exc.value.code == 2


def test_the_command_is_found_past_the_global_options() -> None:
    assert command_in(["--config", "incidents", "tail", "-n"]) == "tail"
    assert command_in(["--version"]) is None
    assert command_in(["frobnicate", "list"]) is None
    assert command_in(["incidents", "list"]) == "incidents"


def test_a_command_loads_only_what_it_uses() -> None:
    # Every `ioc` call paid for the worker's Faust, the console's FastAPI and every sink's
    # client library: two seconds on a slow machine, before a one-line answer.
    probe = (
        "import sys\n"
        "from ioc.cli import main\n"
        "try:\n"
        "    main(['incidents', 'list', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('loaded:', *(m for m in ('faust', 'fastapi', 'aiohttp', 'psycopg', 'paho')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [IOC[0], "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert "usage: ioc incidents list" in done.stdout
    assert done.stdout.splitlines()[-1] == "loaded:"


def test_demo_of_a_scenario_that_does_not_exist_fails_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IOC_DATA_DIR", str(tmp_path / "data"))
    assert main(["demo", "--scenario", "nope"]) == 1
    err = capsys.readouterr().err
    assert "ioc demo: error:" in err
    assert "nope" in err
    assert not (tmp_path / "data").exists()  # no broker, no logs, no store


def test_the_incident_actions_explain_themselves() -> None:
    ack = _help("incidents", "ack")
    assert "IOC_ACK_SLA" in ack
    assert "already acknowledged" in ack
    assert "ioc incidents ack INC-" in ack
    assert "INC-… as `list` shows it" in _help("incidents", "show")
    assert "latest alert first" in _help("incidents", "list")


def test_the_zone_and_topic_actions_explain_themselves() -> None:
    assert "1 otherwise" in _help("zones", "check")
    assert "ioc zones check" in _help("zones", "check")
    assert "zoneset_version" in _help("zones", "show")
    assert "never changed" in _help("topics", "create")
    assert "ioc topics create" in _help("topics", "create")
    assert "Reads only" in _help("topics", "describe")
