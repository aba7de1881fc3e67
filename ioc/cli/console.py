"""`ioc console`: the operators' web map and HTTP API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import socket
from typing import Any

from ioc.cli.common import CommandError, connect, create_topics, say, settings_from, setup_logging

HELP = "serve the operators' web map, the HTTP API and live events"
DESCRIPTION = """\
Serve the console: the web map of the province at /, the HTTP API under /api/ (OpenAPI at
/api/openapi.json, its docs at /api/docs) and live events at /api/events.

The console reads the incident store (IOC_CONSOLE_STORE, else the sqlite:// or postgresql://
sink of IOC_SINKS), follows ioc.incidents and ioc.sensors on the broker (IOC_BROKER, or the
embedded broker of this data dir), and sends operators' actions to the workers as commands.
It holds nothing of its own: run as many as you like behind a load balancer.

Every request needs a token: make one with `ioc tokens create --role operator --name NAME`
and open http://HOST:PORT/#token=TOKEN (the page keeps it for the session and drops it from
the address), or send `Authorization: Bearer TOKEN`.
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "console",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Examples:\n"
            "  ioc console --port 8000\n"
            "  IOC_CONSOLE_STORE=postgresql://ioc@db/ioc IOC_BROKER=kafka://kafka:9092 "
            "ioc console --host 0.0.0.0"
        ),
    )
    p.add_argument("--port", type=int, metavar="P", help="port (default 8000; 0: any free)")
    p.add_argument("--host", metavar="ADDR", help="address to bind (default 127.0.0.1)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log level")
    p.add_argument(
        "--ingest",
        action="store_true",
        help="also serve the HTTP ingest of `ioc bridge http` (POST /ingest/{kind}, "
        "/iot/json), authenticated by device API keys, not tokens",
    )
    p.set_defaults(run=run)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP said, not implied: asyncio sets TCP_NODELAY on accepted sockets only then,
    # and without it a response written in two parts waits for the client's delayed ACK
    # (40 ms a request on a kept-alive connection).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(
                f"port {port} on {host} is in use (another console?); choose one with --port"
            ) from None
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    # Listening before the app starts: a browser that connects early waits in the backlog.
    sock.listen(2048)
    return sock


def run(args: argparse.Namespace) -> int:
    from ioc.console.app import create_app
    from ioc.console.service import Console

    settings = settings_from(
        args, console_port=args.port, console_host=args.host, log_level=args.log_level
    )
    setup_logging(settings.log_level)
    conn = connect(settings, may_start=False)
    try:
        create_topics(settings, conn.cluster, administrator=False)
        sock = bind(settings.console_host, settings.console_port)
        host, port = sock.getsockname()[:2]
        console = Console.from_settings(settings, conn.cluster)
        app = create_app(console, manage_console=False)
        with contextlib.ExitStack() as ingesting:
            if args.ingest:
                _mount_ingest(app, settings, ingesting)
            _serve(app, console, settings, sock, host, port)
    finally:
        conn.close()
    logging.getLogger("ioc.console").info("console stopped")
    return 0


def _mount_ingest(app: Any, settings: Any, stack: contextlib.ExitStack) -> None:
    """The bridge's HTTP ingest in this process: its registry follower and Kafka producer
    live as long as the console does."""
    from ioc.bridge.http import ingest_router
    from ioc.cli.bridge import bridge_parts, http_ingest

    parts = stack.enter_context(bridge_parts(settings, "ioc-console-ingest"))
    app.include_router(ingest_router(http_ingest(settings, parts)))


def _serve(app: Any, console: Any, settings: Any, sock: Any, host: str, port: int) -> None:
    import uvicorn
    from aiokafka.errors import KafkaError

    from ioc.console.database import StoreUnavailable

    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        try:
            await console.open()
        except StoreUnavailable as exc:
            raise CommandError(f"cannot read the incident store: {exc}") from None
        except KafkaError as exc:
            raise CommandError(f"cannot follow the broker: {exc}") from None
        try:
            shown = f"[{host}]" if ":" in host else host
            say(f"console: http://{shown}:{port}/  (store {console.db.name})")
            await server.serve(sockets=[sock])
        finally:
            await console.close()

    try:
        asyncio.run(serve())
    finally:
        sock.close()
