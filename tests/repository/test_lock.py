"""requirements.lock pins what pyproject.toml asks for: every dependency (and every dev tool)
is in it, at a version its specifier allows. `make lock` rewrites it after a change."""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.harness.paths import ROOT


def pinned() -> dict[str, str]:
    out = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not NAME==VERSION"
            out[canonicalize_name(name)] = version.strip()
    return out


def test_every_requirement_of_pyproject_is_pinned_at_an_allowed_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    lock = pinned()
    problems = []
    for text in wanted:
        req = Requirement(text)
        version = lock.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name} is not in requirements.lock")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} does not satisfy {req.specifier}")
    assert not problems, "; ".join(problems) + " — run `make lock`"
