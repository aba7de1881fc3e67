"""A rule file's shape: a name, a description and rules of any registered kind, with ids
that are unique and refer only to rules of the same file."""

from __future__ import annotations

from pydantic import Field, model_validator

from ioc.rules.kinds import Rule, kind_of
from ioc.rules.model import StrictModel


class RuleFile(StrictModel):
    name: str = Field(default="rules", max_length=100)
    description: str | None = None
    rules: list[Rule]

    @model_validator(mode="after")
    def _consistent(self) -> RuleFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        for rule in self.rules:
            refers_to = kind_of(rule).refers_to
            needed = refers_to(rule) if refers_to is not None else []
            missing = [r for r in needed if r not in seen]
            if missing:
                raise ValueError(f"rule {rule.id}: refers to unknown rule(s) {', '.join(missing)}")
            if rule.id in needed:
                raise ValueError(f"rule {rule.id}: a {rule.type} rule cannot refer to itself")
        return self
