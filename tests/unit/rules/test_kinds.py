"""The registry of rule kinds: every kind is found by its `type`, documented, and parsed
through the registry, so that a kind is one module."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from ioc.rules.explain import explain
from ioc.rules.kinds import KINDS, RULE_TYPES, kind_of
from ioc.rules.loader import RuleError, default_rules, parse_rules
from tests.harness.paths import ROOT

HEAD = "  title: {vi: t, en: t}\n  severity: moderate\n  category: Env\n"


def test_each_kind_is_registered_under_the_type_its_model_declares() -> None:
    for name, kind in KINDS.items():
        assert get_args(kind.model.model_fields["type"].annotation) == (name,)
        assert kind.model.model_fields["type"].default == name


def test_every_kind_is_documented_and_the_default_pack_uses_them_through_the_registry() -> None:
    rules_doc = (ROOT / "docs" / "rules.md").read_text()
    for name in KINDS:
        assert f"`{name}`" in rules_doc or f"{name}.py" in rules_doc, name
    pack = default_rules()
    for rule in pack.rules:
        assert kind_of(rule).model is type(rule)
        what, _ = explain(rule)
        assert what


def test_an_unknown_type_names_every_registered_one() -> None:
    with pytest.raises(RuleError) as caught:
        parse_rules(f"- id: x\n  type: sparkle\n{HEAD}", "r.yaml")
    assert all(name in str(caught.value) for name in RULE_TYPES)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            "- id: c\n  type: correlation\n  rules: [nope]\n  within: 5m\n  radius_m: 100\n",
            "refers to unknown rule(s) nope",
        ),
        (
            "- id: c\n  type: correlation\n  rules: [c]\n  within: 5m\n  radius_m: 100\n",
            "cannot refer to itself",
        ),
    ],
)
def test_a_rule_referring_to_rules_outside_its_file_is_refused(rules: str, message: str) -> None:
    text = rules.replace("\n  rules:", "\n" + HEAD + "  rules:")
    with pytest.raises(RuleError, match=re.escape(message)):
        parse_rules(text, "r.yaml")
