"""The console's parts without a server: roles, tokens (hashes only), the incident reader on
both stores (filters, scope, keyset pages), the live feed's resumption, the CSP, OIDC tokens
checked against a JWKS served here."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiokafka import TopicPartition
from cryptography.hazmat.primitives.asymmetric import rsa

from ioc.console.access import Principal, Role, RoleError
from ioc.console.database import Database, PostgresDatabase, SqliteDatabase
from ioc.console.incident_reader import PROVINCE, BadCursor, Cursor, IncidentFilter, IncidentReader
from ioc.console.live import LiveFeed, Position
from ioc.console.oidc import OidcRefused, OidcSettings, OidcVerifier
from ioc.console.security_headers import content_security_policy
from ioc.console.tokens import TokenStore
from ioc.kafka.cluster import Cluster
from ioc.sinks.postgres import PostgresSink
from ioc.sinks.sqlite import SqliteSink
from tests.harness.console_data import T0, acknowledged, opened
from tests.services.postgres import PostgresServer

# Incident n was last seen n minutes after T0 (the acknowledged one a minute later still).
INCIDENTS = [
    opened(1, minute=1, district="da-lat", title="Ngập đường Trần Phú"),
    acknowledged(opened(2, minute=2, district="da-lat")),
    opened(3, minute=3, district="bao-loc", severity="moderate"),
    opened(4, minute=4, district=None, severity="extreme"),
    opened(5, minute=5, district="da-lat", lon=108.60, lat=12.10),
]


def test_roles_parse_and_refuse_with_the_list() -> None:
    assert Role.parse("operator") == Role("operator")
    assert Role.parse("district:da-lat") == Role("district", "da-lat")
    assert str(Role.parse("district:bao-loc")) == "district:bao-loc"
    for bad in ("admin", "district:", "district:ha-noi", "viewer:x"):
        with pytest.raises(RoleError, match="operator, viewer, or district:<slug>"):
            Role.parse(bad)
    district = Principal("x", Role("district", "da-lat"))
    assert district.sees_district("da-lat")
    assert not district.sees_district("bao-loc")
    assert not district.sees_district(None)
    assert not Principal("v", Role("viewer")).may_act


def test_tokens_keep_only_a_hash_and_can_be_revoked(tmp_path: Path) -> None:
    path = tmp_path / "store.db"

    async def run() -> tuple[str, Any, Any, Any, bool, Any]:
        db = SqliteDatabase(path)
        await db.open()
        tokens = TokenStore(db)
        token = await tokens.create("Ca trực A", Role.parse("district:da-lat"))
        good = await tokens.verify(token)
        wrong = await tokens.verify(token[:-1] + ("A" if token[-1] != "A" else "B"))
        garbage = await tokens.verify("not a token")
        revoked = await tokens.revoke(token.split("_")[1])
        after = await tokens.verify(token)
        return token, good, wrong, garbage, revoked, after

    token, good, wrong, garbage, revoked, after = asyncio.run(run())
    assert good == Principal("Ca trực A", Role("district", "da-lat"), "token")
    assert wrong is None
    assert garbage is None
    assert revoked
    assert after is None
    secret = token.split("_", 2)[2]
    assert secret.encode() not in path.read_bytes()
    with sqlite3.connect(path) as conn:
        (digest,) = conn.execute("SELECT secret_sha256 FROM console_tokens").fetchone()
    assert len(digest) == 64
    assert secret not in digest


def _sqlite_reader(path: Path) -> IncidentReader:
    sink = SqliteSink(path)

    async def fill() -> None:
        await sink.start()
        await sink.write(INCIDENTS)
        await sink.stop()

    asyncio.run(fill())
    return IncidentReader(SqliteDatabase(path))


@pytest.fixture(params=["sqlite", "postgresql"])
def reader(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IncidentReader]:
    if request.param == "sqlite":
        yield _sqlite_reader(tmp_path / "store.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.url()
    database = f"reader{time.monotonic_ns()}"
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    url = server.url(database)
    sink = PostgresSink(url)

    async def fill() -> Database:
        await sink.start()
        await sink.write(INCIDENTS)
        await sink.stop()
        db = PostgresDatabase(url)
        await db.open()
        return db

    db = asyncio.run(fill())
    yield IncidentReader(db)


def _ids(reader: IncidentReader, scope: str | None = None, **kwargs: Any) -> set[str]:
    page = asyncio.run(reader.page(scope, IncidentFilter(**kwargs), 100))
    return {i.incident_id for i in page.incidents}


def _id(n: int) -> str:
    return INCIDENTS[n - 1].incident_id


def test_the_reader_filters_and_scopes(reader: IncidentReader) -> None:
    assert _ids(reader) == {i.incident_id for i in INCIDENTS}
    assert _ids(reader, "da-lat") == {_id(1), _id(2), _id(5)}
    assert _ids(reader, districts=("bao-loc", PROVINCE)) == {_id(3), _id(4)}
    assert _ids(reader, "da-lat", districts=("bao-loc",)) == set()
    assert _ids(reader, statuses=("acknowledged",)) == {_id(2)}
    assert _ids(reader, severities=("extreme",)) == {_id(4)}
    assert _ids(reader, text="TRẦN") == {_id(1)}
    assert _ids(reader, text="phú") == {_id(1)}
    assert _ids(reader, text=_id(3).lower()) == {_id(3)}
    assert _ids(reader, text="100%") == set()  # LIKE's wildcards are text here
    assert _ids(reader, bbox=(108.5, 12.0, 108.7, 12.2)) == {_id(5)}
    assert _ids(reader, since=T0 + timedelta(minutes=4)) == {_id(4), _id(5)}
    assert _ids(reader, until=T0 + timedelta(minutes=1, seconds=30)) == {_id(1)}


def test_pages_cover_everything_once_newest_first(reader: IncidentReader) -> None:
    seen: list[str] = []
    after: Cursor | None = None
    while True:
        page = asyncio.run(reader.page(None, IncidentFilter(), 2, after))
        seen += [i.incident_id for i in page.incidents]
        if page.next_cursor is None:
            break
        after = Cursor.decode(page.next_cursor.encode())
    assert seen == [
        i.incident_id for i in sorted(INCIDENTS, key=lambda i: i.last_seen, reverse=True)
    ]


def test_counts_and_versions(reader: IncidentReader) -> None:
    rows = asyncio.run(reader.counts("da-lat", IncidentFilter()))
    assert sum(n for *_, n in rows) == 3
    assert {d for d, *_ in rows} == {"da-lat"}
    versions = asyncio.run(reader.versions(_id(2)))
    assert [v.version for v in versions] == [2]  # the sink was given only the latest
    one = asyncio.run(reader.version(_id(2), 2))
    assert one is not None
    assert one.status == "acknowledged"
    assert asyncio.run(reader.version(_id(2), 1)) is None
    assert asyncio.run(reader.get("bao-loc", _id(1))) is None
    assert asyncio.run(reader.get(None, _id(1))) is not None


def test_a_bad_cursor_is_refused() -> None:
    for text in ("", "abc", "W10", Cursor(T0, "x").encode()[:-2]):
        with pytest.raises(BadCursor):
            Cursor.decode(text)


def test_positions_round_trip_and_refuse_other_layouts() -> None:
    position = Position([[3, 0, 7], [1]])
    assert Position.decode(position.encode(), [3, 1]) is not None
    assert Position.decode(position.encode(), [2, 1]) is None
    assert Position.decode("1.2~x", [2, 1]) is None
    assert Position.decode("-1.2~3", [2, 1]) is None


def _feed() -> LiveFeed:
    """A feed as `start` leaves it on an empty two-partition incidents topic, without a broker."""
    feed = LiveFeed(Cluster.at("127.0.0.1:1"), "inc", "sen", recent=3)
    feed._position = Position([[0, 0], [0]])
    feed._kept_from = [[0, 0], [0]]
    return feed


def _publish(feed: LiveFeed, partition: int, offset: int, n: int, district: str) -> None:
    incident = opened(n, district=district)
    feed._take(
        0, TopicPartition("inc", partition), offset, b"k", incident.model_dump_json().encode()
    )


def test_the_feed_replays_what_a_client_missed_and_resets_when_it_cannot() -> None:
    async def run() -> None:
        feed = _feed()
        operator = Principal("o", Role("operator"))
        district = Principal("d", Role("district", "da-lat"))
        start = feed.position
        _publish(feed, 0, 0, 1, "da-lat")
        _publish(feed, 1, 0, 2, "bao-loc")
        missed = feed.open(operator, start).pending
        assert [e.key for e in missed] == [opened(1).incident_id, opened(2).incident_id]
        assert [e.key for e in feed.open(district, start).pending] == [opened(1).incident_id]
        # Three events are kept: a client from before the fourth-last cannot be replayed.
        _publish(feed, 0, 1, 3, "da-lat")
        _publish(feed, 0, 2, 4, "da-lat")
        assert [e.kind for e in feed.open(operator, start).pending] == ["reset"]
        # ... and one from the future (another feed) neither.
        assert [e.kind for e in feed.open(operator, "9.9~9").pending] == ["reset"]
        # A subscriber gets what it may see, as it arrives.
        sub = feed.open(district, None)
        _publish(feed, 1, 1, 5, "bao-loc")
        _publish(feed, 1, 2, 6, "da-lat")
        got = await sub.next(1.0)
        assert got is not None
        assert got.key == opened(6).incident_id
        assert await sub.next(0.05) is None

    asyncio.run(run())


def test_the_feed_answers_an_actions_waiter() -> None:
    async def run() -> None:
        feed = _feed()
        wanted = acknowledged(opened(7))
        future = feed.expect(lambda i: i.incident_id == wanted.incident_id and i.version == 2)
        _publish(feed, 0, 0, 7, "da-lat")
        assert not future.done()
        feed._take(0, TopicPartition("inc", 0), 1, b"k", wanted.model_dump_json().encode())
        assert (await future).status == "acknowledged"

    asyncio.run(run())


def test_the_csp_allows_the_console_and_its_basemap_only() -> None:
    plain = content_security_policy(None)
    assert "default-src 'self'" in plain
    assert "script-src 'self';" in plain
    assert "https:" not in plain
    with_basemap = content_security_policy("https://tiles.lamdong.gov.vn/styles/ioc.json")
    assert "connect-src 'self' https://tiles.lamdong.gov.vn" in with_basemap
    assert "script-src 'self';" in with_basemap


class _Jwks:
    """A JWKS served on loopback, as the province's identity provider would."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        body = json.dumps({"keys": keys}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    def close(self) -> None:
        self.server.shutdown()


def test_oidc_tokens_are_checked_against_the_providers_keys() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = _Jwks([{**public, "kid": "k1", "use": "sig", "alg": "RS256"}])
    try:
        verifier = OidcVerifier(OidcSettings("https://id.lamdong.gov.vn", "ioc-console", jwks.url))

        def token(signer: Any = key, **claims: Any) -> str:
            body = {
                "iss": "https://id.lamdong.gov.vn",
                "aud": "ioc-console",
                "exp": int(time.time()) + 300,
                "preferred_username": "nguyen.van.a",
                "ioc_role": "district:da-lat",
                **claims,
            }
            return jwt.encode(body, signer, algorithm="RS256", headers={"kid": "k1"})

        principal = asyncio.run(verifier.verify(token()))
        assert principal == Principal("nguyen.van.a", Role("district", "da-lat"), "oidc")
        listed = asyncio.run(verifier.verify(token(ioc_role=["other-app:admin", "viewer"])))
        assert listed.role == Role("viewer")
        for bad, why in (
            (token(aud="another-app"), "(?i)audience"),
            (token(iss="https://evil.example"), "issuer"),
            (token(exp=int(time.time()) - 3600), "expired"),
            (token(signer=other), "Signature"),
            (token(ioc_role="admin"), "no console role"),
            (token(ioc_role=["operator", "viewer"]), "2 console roles"),
        ):
            with pytest.raises(OidcRefused, match=why):
                asyncio.run(verifier.verify(bad))
    finally:
        jwks.close()


def test_the_consoles_socket_sends_small_writes_at_once() -> None:
    # asyncio turns Nagle's algorithm off on accepted sockets only when the listening socket
    # says IPPROTO_TCP; else each response written in two parts waits 40 ms for a delayed ACK.
    import socket

    from ioc.cli.console import bind

    listening = bind("127.0.0.1", 0)
    try:
        assert listening.proto == socket.IPPROTO_TCP
        client = socket.create_connection(listening.getsockname()[:2])
        accepted, _ = listening.accept()
        try:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            accepted.close()
            client.close()
    finally:
        listening.close()


def test_a_store_that_cannot_be_read_is_a_503_problem_on_every_path(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from ioc.console.app import create_app
    from ioc.console.service import Console
    from ioc.settings import Settings

    settings = Settings(data_dir=tmp_path, console_store=f"sqlite://{tmp_path / 'gone.db'}")
    console = Console.from_settings(settings, Cluster.at("127.0.0.1:1"))  # never opened: no broker
    token = "ioc_0123456789ab_" + "A" * 43
    with TestClient(create_app(console, manage_console=False)) as client:
        for path in ("/api/incidents", "/api/me", "/api/counts"):
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 503, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("/store-unavailable")
