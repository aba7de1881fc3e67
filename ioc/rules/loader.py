"""Loading rule files: YAML in, a validated RuleSet out, or errors that name the file, the
line, the rule id and the field, and say what was expected."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ioc.digest import content_digest
from ioc.rules.kinds import RULE_MODELS, RULE_TYPES
from ioc.rules.model import RuleBase
from ioc.rules.rule_file import RuleFile

DEFAULT_RULES = "lam-dong.yaml"


class RuleError(Exception):
    """A rule file that cannot be used; `problems` lists every fault found."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[RuleBase, ...]
    version: str  # content hash: the same rules, the same version, wherever they are loaded
    name: str
    sources: tuple[str, ...]

    def get(self, rule_id: str) -> RuleBase:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    @property
    def enabled(self) -> tuple[RuleBase, ...]:
        return tuple(r for r in self.rules if r.enabled)


def _lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value
            out[(*path, name)] = key.start_mark.line + 1
            _lines(value, (*path, name), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out)


def _line_of(loc: Sequence[Any], lines: dict[tuple[Any, ...], int]) -> int | None:
    """The line of the deepest part of `loc` present in the file. Union tags and model
    names that pydantic adds to a location are not in the file, and are skipped."""
    path: tuple[Any, ...] = ()
    best = lines.get(path)
    for part in loc:
        if (*path, part) in lines:
            path = (*path, part)
            best = lines[path]
    return best


def parse_rules(text: str, source: str) -> RuleSet:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError([f"{source}: not valid YAML: {exc}"]) from None
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _lines(node, (), lines)
    if isinstance(data, list):
        # A bare list of rules: the same as {rules: [...]}, and its lines shift by one key.
        data = {"rules": data}
        lines = {("rules", *k): v for k, v in lines.items()}
    if not isinstance(data, dict):
        raise RuleError([f"{source}: a rule file is a list of rules, or a mapping with rules:"])
    try:
        rule_file = RuleFile.model_validate(data)
    except ValidationError as exc:
        raise RuleError(_explain(exc, data, lines, source)) from None
    return _ruleset(rule_file.rules, rule_file.name, (source,))


def _explain(
    exc: ValidationError, data: dict[str, Any], lines: dict[tuple[Any, ...], int], source: str
) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        rule_id = None
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            rules = data.get("rules")
            if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
                rule_id = rules[loc[1]].get("id")
        parts = list(loc[2:])
        if parts and parts[0] in RULE_TYPES:  # the union's tag, not a key of the file
            parts = parts[1:]
        field = ".".join(str(p) for p in parts if not str(p).startswith("function-")) or "(rule)"
        line = _line_of((*loc[:2], *parts), lines)
        where = f"{source}:{line}" if line is not None else source
        who = (
            f"rule {rule_id}"
            if rule_id
            else (f"rule #{loc[1] + 1}" if len(loc) > 1 and isinstance(loc[1], int) else "file")
        )
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "rule_type" and isinstance(err["input"], dict):
            message = _untyped(err["input"], message)
        if loc[:1] == ("rules",) and len(loc) >= 2:
            problems.append(f"{where}: {who}: {field}: {message}")
        else:
            problems.append(f"{where}: {message}")
    return problems


def _untyped(rule: dict[str, Any], message: str) -> str:
    """A rule whose kind could not be told: say which of its keys no kind knows (a misspelt
    `threshold:` or `window:` is the usual cause), with what each was probably meant to be."""
    fields = {name for model in RULE_MODELS for name in model.model_fields}
    unknown = [key for key in rule if isinstance(key, str) and key not in fields]
    if not unknown:
        return f"no type: {message}"
    said = []
    for key in unknown:
        close = difflib.get_close_matches(key, sorted(fields | set(RULE_TYPES)), n=1)
        if not close:
            said.append(repr(key))
        elif close[0] in fields:
            said.append(f"{key!r} (did you mean {close[0]!r}?)")
        else:
            said.append(f"{key!r} (did you mean 'type: {close[0]}'?)")
    return f"no type, and no kind of rule has the key {', '.join(said)}; {message}"


def _ruleset(rules: Sequence[RuleBase], name: str, sources: tuple[str, ...]) -> RuleSet:
    version = content_digest([r.model_dump(mode="json", by_alias=True) for r in rules])
    return RuleSet(tuple(rules), version, name, sources)


def load_rules(paths: Sequence[Path]) -> RuleSet:
    """Several files make one rule set; every problem in every file is reported at once."""
    problems: list[str] = []
    texts: list[tuple[str, str]] = []
    for path in paths:
        try:
            texts.append((str(path), path.read_text(encoding="utf-8")))
        except OSError as exc:
            problems.append(f"{path}: cannot read ({exc.strerror})")
        except UnicodeDecodeError:
            problems.append(f"{path}: not UTF-8 text")
    try:
        ruleset = rules_from_texts(texts)
    except RuleError as exc:
        problems.extend(exc.problems)
    if problems:
        raise RuleError(problems)
    return ruleset


def rules_from_texts(texts: Sequence[tuple[str, str]]) -> RuleSet:
    """One rule set from (source, YAML text) pairs: from files, or from the `ioc.rules` topic."""
    if not texts:
        raise RuleError(["no rule file given"])
    problems: list[str] = []
    rules: list[RuleBase] = []
    names = []
    for source, text in texts:
        try:
            ruleset = parse_rules(text, source)
        except RuleError as exc:
            problems.extend(exc.problems)
            continue
        rules.extend(ruleset.rules)
        names.append(ruleset.name)
    seen: dict[str, int] = {}
    for rule in rules:
        seen[rule.id] = seen.get(rule.id, 0) + 1
    problems.extend(
        f"rule id {i!r} is defined in more than one file" for i, n in seen.items() if n > 1
    )
    if problems:
        raise RuleError(problems)
    return _ruleset(rules, "+".join(names), tuple(source for source, _ in texts))


def default_rules() -> RuleSet:
    """The Lâm Đồng rule pack shipped with ioc."""
    resource = resources.files("ioc.rules").joinpath("data", DEFAULT_RULES)
    return parse_rules(resource.read_text(encoding="utf-8"), f"ioc default rules ({DEFAULT_RULES})")
