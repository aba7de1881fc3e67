"""The documentation: the generated settings reference is current, every relative link in the
README and docs/ leads to a file that exists, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ioc.settings_doc import REGENERATE, markdown
from tests.harness.paths import ROOT

README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
README_MAX_LINES = 220

# Inline links and images `[text](target "title")`, and reference definitions `[id]: target`.
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)


def documents() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "HISTORY.md"]


def relative_links(text: str) -> list[str]:
    """Link targets that are paths in this repository: no URLs, no anchors alone, nothing
    inside code (a code sample may look like a link)."""
    prose = CODE_SPAN.sub("", FENCE.sub("", text))
    targets = INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)
    return [t for t in targets if not EXTERNAL.match(t)]


def test_configuration_reference_is_generated_from_the_settings() -> None:
    assert CONFIGURATION.is_file(), f"docs/configuration.md is missing; run `{REGENERATE}`"
    assert CONFIGURATION.read_text(encoding="utf-8") == markdown(), (
        "docs/configuration.md no longer matches the settings' descriptions in "
        f"ioc/settings.py; regenerate it: `{REGENERATE}`"
    )


def test_the_link_finder_sees_links_and_skips_code() -> None:
    text = (
        "See [ops](operations.md#settings), [web](https://example.org), [top](#x) and\n"
        "[ref]: ../bench/HISTORY.md\n"
        "`[not](a-link.md)`\n"
        "```sh\n[not](either.md)\n```\n"
    )
    assert relative_links(text) == ["operations.md#settings", "../bench/HISTORY.md"]


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file(document: Path) -> None:
    assert document.is_file(), f"{document.relative_to(ROOT)} is missing"
    broken = []
    for target in relative_links(document.read_text(encoding="utf-8")):
        path = target.split("#", 1)[0].split("?", 1)[0]
        if path and not (document.parent / path).exists():
            broken.append(target)
    assert not broken, f"{document.relative_to(ROOT)} links to missing files: {broken}"


def test_the_readme_links_every_document() -> None:
    text = README.read_text(encoding="utf-8")
    linked = {(ROOT / t.split("#", 1)[0]).resolve() for t in relative_links(text)}
    unlinked = [str(p.relative_to(ROOT)) for p in documents()[1:] if p.resolve() not in linked]
    assert not unlinked, f"README.md does not link {unlinked}"


def test_the_readme_stays_short() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (at most {README_MAX_LINES}): move the detail to docs/"
    )
