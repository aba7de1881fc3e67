"""Authentication of every request: `Authorization: Bearer <token>`, an `ioc tokens` token or
the identity provider's JWT. No token, or one that is not valid: 401 with a
`WWW-Authenticate` challenge. The token itself is never logged, nor echoed in an error."""

from __future__ import annotations

import logging

from ioc.console.access import Principal
from ioc.console.oidc import OidcRefused, OidcVerifier, looks_like_jwt
from ioc.console.problems import Problem
from ioc.console.tokens import TokenStore

log = logging.getLogger("ioc.console")
CHALLENGE = 'Bearer realm="ioc"'


def _unauthorised(detail: str) -> Problem:
    return Problem(401, "not-authenticated", detail, headers={"WWW-Authenticate": CHALLENGE})


class Authenticator:
    def __init__(self, tokens: TokenStore, oidc: OidcVerifier | None = None) -> None:
        self.tokens = tokens
        self.oidc = oidc

    async def principal(self, authorization: str | None) -> Principal:
        if not authorization:
            raise _unauthorised("send Authorization: Bearer <token> (`ioc tokens create`)")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorised("the Authorization header must read: Bearer <token>")
        if self.oidc is not None and looks_like_jwt(token):
            try:
                return await self.oidc.verify(token)
            except OidcRefused as exc:
                log.info("refused an identity provider's token: %s", exc)
                raise _unauthorised(str(exc)) from None
        principal = await self.tokens.verify(token)  # StoreUnavailable: the app's 503
        if principal is None:
            raise _unauthorised("the token is not valid (unknown, revoked or mistyped)")
        return principal
