"""A rule set as it travels on the `ioc.rules` topic: its YAML files whole, with who loaded it.

The topic is compacted under one key, so its latest message is the rule set in force, and a
worker that starts reads it before it evaluates anything. The files travel as text (not as
parsed rules) so that every worker validates them with its own code: a worker of an older
version that cannot read a new rule rejects the set and keeps the one it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ioc.rules.loader import RuleError, RuleSet, rules_from_texts
from ioc.schemas.common import UtcDatetime

RULESET_KEY = b"ruleset"
MAX_RULE_FILE_CHARS = 1_000_000


class RuleText(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Annotated[str, Field(max_length=500)]
    text: Annotated[str, Field(max_length=MAX_RULE_FILE_CHARS)]


class PublishedRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(max_length=200)]
    version: Annotated[str, Field(max_length=64)]
    files: list[RuleText] = Field(min_length=1, max_length=100)
    loaded_at: UtcDatetime
    loaded_by: Annotated[str, Field(max_length=200)]


def encode_rules(
    ruleset: RuleSet, texts: Sequence[tuple[str, str]], loaded_by: str, now: datetime
) -> bytes:
    message = PublishedRules(
        name=ruleset.name,
        version=ruleset.version,
        files=[RuleText(source=source, text=text) for source, text in texts],
        loaded_at=now,
        loaded_by=loaded_by,
    )
    return message.model_dump_json().encode()


def decode_rules(value: bytes | None, where: str) -> tuple[RuleSet, PublishedRules]:
    """The rule set of a message, validated; RuleError says what is wrong with it."""
    if value is None:
        raise RuleError([f"{where}: empty message (a deletion marker) carries no rule set"])
    try:
        message = PublishedRules.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[:3]
        details = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in first
        )
        raise RuleError([f"{where}: not a published rule set ({details})"]) from None
    ruleset = rules_from_texts([(f.source, f.text) for f in message.files])
    return ruleset, message
