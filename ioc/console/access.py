"""Who is asking, and what they may see and do: the console's roles.

- `operator`: the whole province, may act on any incident;
- `district:<slug>`: that district IOC's incidents and sensors only, may act on them;
- `viewer`: the whole province, read only.

Every route takes a `Principal` and asks it; a district principal's scope is applied in the
query itself (the store, the live feed, the counts, the feeds), never by filtering a result
that was already read for someone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ioc.districts import DISTRICT_SLUGS

RoleKind = Literal["operator", "district", "viewer"]
ROLE_HELP = "operator, viewer, or district:<slug> (" + ", ".join(DISTRICT_SLUGS) + ")"


class RoleError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Role:
    kind: RoleKind
    district: str | None = None

    @classmethod
    def parse(cls, text: str) -> Role:
        kind, _, district = text.strip().partition(":")
        if kind in ("operator", "viewer") and not district:
            return cls(kind)  # type: ignore[arg-type]  # one of the two, checked above
        if kind == "district" and district in DISTRICT_SLUGS:
            return cls("district", district)
        if kind == "district":
            raise RoleError(f"unknown district {district!r} in role {text!r}; known: {ROLE_HELP}")
        raise RoleError(f"unknown role {text!r}: {ROLE_HELP}")

    def __str__(self) -> str:
        return f"district:{self.district}" if self.kind == "district" else self.kind


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a token's or an identity provider's user."""

    name: str
    role: Role
    via: Literal["token", "oidc"] = "token"

    @property
    def may_act(self) -> bool:
        return self.role.kind in ("operator", "district")

    @property
    def district(self) -> str | None:
        """The one district this caller is limited to; None: the whole province."""
        return self.role.district

    def sees_district(self, district: str | None) -> bool:
        """Whether an incident or sensor of `district` (None: provincial) is visible."""
        return self.role.district is None or district == self.role.district
