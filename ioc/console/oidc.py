"""Users of the province's identity provider: a JWT it signed, checked against its JWKS.

The token must carry the configured issuer and audience, an expiry, and a claim (setting
`console_oidc_role_claim`) naming one console role, as a string or as a list holding exactly
one role. Keys are fetched from the JWKS URL and cached; a token signed by a key the cache
does not know makes PyJWT fetch the set again, so a key rotation needs no restart.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import jwt

from ioc.console.access import Principal, Role, RoleError

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class OidcRefused(Exception):
    """A JWT that is not acceptable; the message says why (it is safe to show)."""


@dataclass(frozen=True, slots=True)
class OidcSettings:
    issuer: str
    audience: str
    jwks_url: str
    role_claim: str = "ioc_role"
    leeway_s: float = 30.0


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


class OidcVerifier:
    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._keys = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300, timeout=10)

    def _verify(self, token: str) -> Principal:
        s = self.settings
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWKClientConnectionError:
            raise OidcRefused("the identity provider's keys cannot be fetched") from None
        except jwt.PyJWTError as exc:
            raise OidcRefused(f"the identity provider's token is refused: {exc}") from None
        return Principal(name=_name(claims), role=_role(claims, s.role_claim), via="oidc")

    async def verify(self, token: str) -> Principal:
        # PyJWKClient fetches with urllib: off the event loop.
        return await asyncio.to_thread(self._verify, token)


def _name(claims: dict[str, Any]) -> str:
    for claim in ("preferred_username", "email", "name", "sub"):
        value = claims.get(claim)
        if isinstance(value, str) and value:
            return value[:128]
    raise OidcRefused("the token names no user (preferred_username, email, name or sub)")


def _role(claims: dict[str, Any], claim: str) -> Role:
    value = claims.get(claim)
    candidates = value if isinstance(value, list) else [value]
    roles = []
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        try:
            roles.append(Role.parse(candidate))
        except RoleError:
            continue  # other applications' roles may share the claim
    if len(roles) != 1:
        found = "no console role" if not roles else f"{len(roles)} console roles"
        raise OidcRefused(f"the token's {claim!r} claim holds {found}; it needs exactly one")
    return roles[0]
