"""The `ioc` command: one entry point, one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ioc import __version__
from ioc.cli.common import CommandError
from ioc.settings import SettingsError

DESCRIPTION = """\
ioc — event-stream processor of a provincial Intelligent Operations Centre
(Trung tâm giám sát và điều hành thông minh).

Sensors (traffic, security cameras, environment stations) publish readings to Kafka; ioc
validates them, places them on the map, evaluates alert rules and turns alerts into incidents
for the provincial IOC and each district IOC.
"""

EPILOG = """\
Where the broker is:
  IOC_BROKER=kafka://HOST:PORT[;kafka://HOST2:PORT]   a Kafka cluster
  unset                                               the embedded broker: `ioc broker` runs one,
                                                      `ioc worker` and `ioc demo` start their own
Settings come from defaults < a TOML file (--config, $IOC_CONFIG, ./ioc.toml) < IOC_* variables
< command-line options; `ioc config` shows the effective ones and where each came from.

Examples:
  ioc demo                        the whole system on this machine; Ctrl-C stops it
  ioc broker --port 9092          an embedded broker in the foreground, for your own workers
  IOC_BROKER=kafka://127.0.0.1:9092 ioc worker --web-port 6066
  curl -s localhost:6066/metrics  the worker's Prometheus metrics (also /health)
"""

# One module per command, in the order `ioc --help` lists them. A command imports only its
# own module: `ioc incidents list` does not load the worker's Faust or the console's FastAPI.
COMMANDS = (
    "demo",
    "broker",
    "worker",
    "tail",
    "incidents",
    "console",
    "tokens",
    "bridge",
    "devices",
    "subscribe",
    "simulate",
    "record",
    "replay",
    "rules",
    "zones",
    "aqi",
    "schema",
    "config",
    "topics",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with `only` one command's (all that parsing its arguments needs)."""
    parser = argparse.ArgumentParser(
        prog="ioc",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ioc {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML settings file (default: $IOC_CONFIG, else ./ioc.toml if present)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(f"ioc.cli.{name}").register(sub)
    return parser


def command_in(argv: Sequence[str]) -> str | None:
    """The command named in `argv` (its first word that is not an option of `ioc` itself)."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_in(argv))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except (CommandError, SettingsError) as exc:
        print(f"ioc {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`ioc zones show | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
