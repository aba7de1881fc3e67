"""The console's API tokens (`ioc tokens create | list | revoke`).

A token reads `ioc_<id>_<secret>`: the id is public (it names the token in lists, logs and
revocations), the secret is 32 random bytes shown once when the token is made. The store keeps
only the secret's SHA-256 — enough for a secret of that much entropy, where a slow password
hash would only slow every request — and compares it in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ioc.console.access import Principal, Role
from ioc.console.database import Database

PREFIX = "ioc_"
TOKEN_PATTERN = re.compile(r"^ioc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
NAME_PATTERN = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")


class TokenError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.astimezone(UTC)


class TokenStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, name: str, role: Role, now: datetime | None = None) -> str:
        """A new token; the whole token is returned here and never again."""
        if not NAME_PATTERN.match(name):
            raise TokenError("a token's name is 1 to 128 printable characters")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        await self.db.execute(
            "INSERT INTO console_tokens (token_id, name, role, secret_sha256, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [token_id, name, str(role), _digest(secret), self.db.time(now or datetime.now(UTC))],
        )
        return f"{PREFIX}{token_id}_{secret}"

    async def list(self) -> list[TokenInfo]:
        rows = await self.db.fetch(
            "SELECT token_id, name, role, created_at, revoked_at FROM console_tokens "
            "ORDER BY created_at, token_id"
        )
        return [
            TokenInfo(
                r[0], r[1], Role.parse(r[2]), _moment(r[3]) or datetime.now(UTC), _moment(r[4])
            )
            for r in rows
        ]

    async def revoke(self, token_id: str, now: datetime | None = None) -> bool:
        """Revoke by id (or by the whole token); False when no active token has that id."""
        match = TOKEN_PATTERN.match(token_id)
        wanted = match.group(1) if match else token_id
        changed = await self.db.execute(
            "UPDATE console_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
            [self.db.time(now or datetime.now(UTC)), wanted],
        )
        return changed > 0

    async def verify(self, token: str) -> Principal | None:
        """The principal a presented token stands for; None for anything else."""
        match = TOKEN_PATTERN.match(token)
        if match is None:
            return None
        token_id, secret = match.groups()
        rows = await self.db.fetch(
            "SELECT name, role, secret_sha256 FROM console_tokens "
            "WHERE token_id = ? AND revoked_at IS NULL",
            [token_id],
        )
        if not rows:
            return None
        name, role, digest = rows[0]
        if not hmac.compare_digest(digest, _digest(secret)):
            return None
        return Principal(name=name, role=Role.parse(role), via="token")
