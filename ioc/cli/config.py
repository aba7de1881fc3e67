"""`ioc config`: the effective settings and where each value came from."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ioc.kafka.embedded import discover
from ioc.settings import load_settings

HELP = "print the effective settings and where each came from"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "config",
        help=HELP,
        description=(
            "Print the effective settings: defaults, overridden by the config file, then by "
            "IOC_* environment variables. Each line says where its value came from."
        ),
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    p.set_defaults(run=run)


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _toml(value: Any) -> str:
    if value is None:
        return '""'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(_plain(value), ensure_ascii=False)


def run(args: argparse.Namespace) -> int:
    settings, sources = load_settings(args.config)
    # As JSON would carry them: paths and durations as text (15m), as a config file writes them.
    values = settings.model_dump(mode="json")
    if args.json:
        out = {name: {"value": _plain(v), "source": sources[name]} for name, v in values.items()}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print("[ioc]")
    for name, value in values.items():
        shown = settings.broker_url if name == "broker" else value
        print(f"{name} = {_toml(shown)}  # {sources[name]}")
    if settings.broker is None:
        running = discover(settings.data_dir)
        where = (
            f"embedded broker running at {running}"
            if running
            else "no embedded broker running; `ioc broker` starts one"
        )
        print(f"# broker unset: {where}")
    return 0
