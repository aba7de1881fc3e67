"""docs/configuration.md, rendered from the settings' own descriptions (`ioc.settings.Settings`).

    python -m ioc.settings_doc > docs/configuration.md

tests/repository/test_docs.py fails when the file and this rendering drift apart.
"""

from __future__ import annotations

import typing
from datetime import timedelta
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ioc.durations import format_duration
from ioc.settings import ENV_PREFIX, Settings

REGENERATE = "python -m ioc.settings_doc > docs/configuration.md"

# Groups by the field's name, first match wins; the rest are "General". settings.py declares
# the fields in this order, more or less, without headings of its own.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Kafka security", ("security_", "sasl_", "ssl_")),
    ("The console (`ioc console`)", ("console_",)),
    ("The MQTT bridge (`ioc bridge mqtt`)", ("mqtt_",)),
    ("The bridges and HTTP ingest", ("bridge_", "ingest_")),
)
GENERAL = "General"

# Defaults made at run time from the machine they run on: said in words, so that the file is
# the same on every machine.
MACHINE_DEFAULTS = {
    "data_dir": "`$XDG_DATA_HOME/ioc`, else `~/.local/share/ioc`",
    "mqtt_client_id": "`ioc-bridge-<host name>`",
}


def env_name(name: str) -> str:
    """The environment variable of a setting, as `ioc.settings.load_settings` reads it."""
    return f"{ENV_PREFIX}{name}".upper()


def group_of(name: str) -> str:
    for title, prefixes in GROUPS:
        if name.startswith(prefixes):
            return title
    return GENERAL


def _text(value: object) -> str:
    """A value as one would write it in the environment variable."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple | list):
        return ";".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={_text(v)}" for k, v in value.items())
    if isinstance(value, Path):
        return str(value)
    return str(value)


def default_text(name: str, field: FieldInfo) -> str:
    if name in MACHINE_DEFAULTS:
        return MACHINE_DEFAULTS[name]
    if field.default_factory is None and field.default is PydanticUndefined:
        return "required"
    value: object = field.get_default(call_default_factory=True, validated_data={})
    if value is None:
        return "unset"
    shown = _text(value)
    if shown == "":
        return "empty"
    return "`" + shown.replace("|", "\\|") + "`"


def _choices(field: FieldInfo) -> tuple[str, ...]:
    """The values a Literal setting takes (also inside Optional), else nothing."""
    annotation = field.annotation
    candidates = (annotation, *typing.get_args(annotation))
    for candidate in candidates:
        if typing.get_origin(candidate) is typing.Literal:
            return tuple(str(v) for v in typing.get_args(candidate))
    return ()


def description_text(field: FieldInfo) -> str:
    text = " ".join((field.description or "").split())
    choices = _choices(field)
    if choices:
        text += " One of " + ", ".join(f"`{c}`" for c in choices) + "."
    return text.replace("|", "\\|")


def markdown() -> str:
    """docs/configuration.md: every setting, by group, with its variable, default and meaning."""
    fields = Settings.model_fields
    grouped: dict[str, list[str]] = {GENERAL: []}
    for title, _ in GROUPS:
        grouped[title] = []
    for name in fields:
        grouped[group_of(name)].append(name)

    lines = [
        "# Configuration",
        "",
        "<!-- Generated from ioc/settings.py by ioc/settings_doc.py: do not edit by hand. -->",
        "",
        "This file is generated from the descriptions of the settings in `ioc/settings.py`; "
        "do not edit it by hand. After changing a setting, regenerate it with",
        "",
        "```sh",
        REGENERATE,
        "```",
        "",
        "(`tests/repository/test_docs.py` fails while it is out of date).",
        "",
        "Every setting has a default, may be set in a TOML file (`--config FILE`, `$IOC_CONFIG` "
        "or `./ioc.toml`, under an `[ioc]` table, with the name in the first column), is "
        f"overridden by its environment variable (`{ENV_PREFIX}` and the name in capitals), "
        "and then by command-line options. `ioc config` prints the effective settings and "
        "where each came from; [operations.md](operations.md#settings) says more about the "
        "main ones.",
        "",
        f"{len(fields)} settings:",
    ]
    for title, names in grouped.items():
        if not names:
            continue
        lines += [
            "",
            f"## {title}",
            "",
            "| setting | environment | default | meaning |",
            "| --- | --- | --- | --- |",
        ]
        for name in names:
            field = fields[name]
            lines.append(
                f"| `{name}` | `{env_name(name)}` | {default_text(name, field)} "
                f"| {description_text(field)} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
