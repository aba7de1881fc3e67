"""`ioc --help` must teach: every command says what it does, with examples."""

from __future__ import annotations

import subprocess

import pytest

from ioc.cli import build_parser, main
from tests.conftest import IOC


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
