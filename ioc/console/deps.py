"""What every route declares: the console it runs in, and the caller (authenticated, with a
role). Declaring the caller is how a route is protected; there is no route without it but
the health check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ioc.console.access import Principal
from ioc.console.problems import Problem
from ioc.console.service import Console

# auto_error off: a missing token is answered as a problem document like any other error.
bearer = HTTPBearer(auto_error=False, description="A token from `ioc tokens create`, or a JWT.")


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    header = f"Bearer {credentials.credentials}" if credentials else None
    if header is None and request.headers.get("authorization"):
        header = request.headers["authorization"]  # a wrong scheme: say so
    return await console_of(request).auth.principal(header)


async def actor(principal: Annotated[Principal, Depends(caller)]) -> Principal:
    if not principal.may_act:
        raise Problem(403, "read-only", f"the {principal.role} role may not act on incidents")
    return principal


ConsoleDep = Annotated[Console, Depends(console_of)]
CallerDep = Annotated[Principal, Depends(caller)]
ActorDep = Annotated[Principal, Depends(actor)]
