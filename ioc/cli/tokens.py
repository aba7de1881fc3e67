"""`ioc tokens create | list | revoke`: the console's API tokens."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from ioc.cli.common import CommandError, settings_from
from ioc.console.access import ROLE_HELP, Role, RoleError

HELP = "make, list and revoke the console's API tokens"
DESCRIPTION = f"""\
Tokens let people and programs use the console and its API. Each has a role:
  operator          the whole province; may acknowledge and resolve
  district:<slug>   one district IOC's incidents and sensors only; may act on them
  viewer            the whole province, read only
Roles: {ROLE_HELP}.

A new token is printed once, on standard output, and never again: the store (the console's,
IOC_CONSOLE_STORE, else the sqlite:// or postgresql:// sink of IOC_SINKS) keeps only a hash.
Revoke a token by its id (the 12 hex digits after "ioc_"); a console refuses it at once.
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "tokens",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Examples:\n"
            "  ioc tokens create --role operator --name 'Ca trực A'\n"
            "  ioc tokens create --role district:da-lat --name 'IOC Đà Lạt'\n"
            "  ioc tokens list\n"
            "  ioc tokens revoke 3f9c0a1b2c4d"
        ),
    )
    p.add_argument(
        "--store",
        metavar="URL",
        help="sqlite:///PATH or postgresql://… (default: settings)",
    )
    tsub = p.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    create = tsub.add_parser("create", help="make a token and print it once")
    create.add_argument("--role", required=True, help=ROLE_HELP)
    create.add_argument("--name", required=True, help="who or what uses it (shown in lists)")
    create.set_defaults(run=run_create)
    listing = tsub.add_parser("list", help="every token: id, name, role, made, revoked")
    listing.add_argument("--json", action="store_true", help="JSON lines")
    listing.set_defaults(run=run_list)
    revoke = tsub.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id", metavar="ID")
    revoke.set_defaults(run=run_revoke)


def _run(args: argparse.Namespace, work: Any) -> Any:
    from ioc.console.database import StoreUnavailable, opened, store_url
    from ioc.console.tokens import TokenStore

    settings = settings_from(args)
    url = store_url(settings.sinks, args.store or settings.console_store)

    async def go() -> Any:
        async with opened(url, settings.data_dir) as db:
            return await work(TokenStore(db))

    try:
        return asyncio.run(go())
    except ValueError as exc:  # not a store the console can use
        raise CommandError(str(exc)) from None
    except StoreUnavailable as exc:
        raise CommandError(f"cannot open the store: {exc}") from None


def run_create(args: argparse.Namespace) -> int:
    from ioc.console.tokens import TokenError

    try:
        role = Role.parse(args.role)
    except RoleError as exc:
        raise CommandError(str(exc)) from None
    try:
        token = _run(args, lambda store: store.create(args.name, role))
    except TokenError as exc:
        raise CommandError(str(exc)) from None
    print(token)
    print(
        f"new token for {args.name!r}, role {role}: it is shown only now, keep it safe",
        file=sys.stderr,
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    tokens = _run(args, lambda store: store.list())
    for t in tokens:
        revoked = t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else None
        if args.json:
            print(
                json.dumps(
                    {
                        "id": t.token_id,
                        "name": t.name,
                        "role": str(t.role),
                        "created_at": t.created_at.isoformat(timespec="seconds"),
                        "revoked_at": revoked,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            state = f"revoked {revoked}" if revoked else "active"
            made = t.created_at.isoformat(timespec="seconds")
            print(f"{t.token_id}  {t.role!s:<18} {state:<34} {made}  {t.name}")
    if not tokens and not args.json:
        print(
            "no tokens yet: `ioc tokens create --role operator --name NAME`",
            file=sys.stderr,
        )
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    if not _run(args, lambda store: store.revoke(args.token_id)):
        raise CommandError(f"no active token {args.token_id} (see `ioc tokens list`)")
    print(f"revoked {args.token_id}", file=sys.stderr)
    return 0
