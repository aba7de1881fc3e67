"""`ioc worker`: run the stream-processing worker."""

from __future__ import annotations

import argparse
from typing import Any

from ioc.cli.common import (
    CommandError,
    connect,
    create_topics,
    ensure_data_dir,
    say,
    seed_group_offsets,
    settings_from,
)
from ioc.ports import free_port, port_is_free

HELP = "run a stream-processing worker (Faust) with /metrics and /health"
DESCRIPTION = """\
Run one worker of the ioc Faust application. It reads the sensor topics, sends what it cannot
accept to the dead-letter topic with the reason, places readings on the map, runs the alert
rules (the set loaded with `ioc rules load`, else the shipped pack) and publishes alerts.

Any number of identical workers may run against the same broker: Kafka's consumer group
spreads the partitions between them, and a worker that dies hands its partitions and table
state (changelogs) to the others.

Without IOC_BROKER the worker uses the embedded broker of this data dir if one is running
(`ioc broker`), and otherwise starts its own, which stops with it.

The worker's web server answers:
  /metrics       Prometheus metrics
  /health        readiness: 200 once joined and recovered, while no partition is stalled
  /health/live   liveness: 200 while the event loop runs
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "worker",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Examples:\n  ioc worker\n"
            "  IOC_BROKER=kafka://kafka-1:9092;kafka://kafka-2:9092 ioc worker --web-port 6067"
        ),
    )
    p.add_argument(
        "--web-port", type=int, metavar="P", help="port of /metrics and /health (0: a free one)"
    )
    p.add_argument("--web-host", metavar="ADDR", help="address the web server binds")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log level")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import faust

    from ioc.streams import gc_tuning
    from ioc.streams.app import create_app

    settings = settings_from(
        args, web_port=args.web_port, web_host=args.web_host, log_level=args.log_level
    )
    if settings.web_port == 0:
        # Faust takes 0 literally and fails on it later: choose the free port here.
        settings = settings.model_copy(update={"web_port": free_port(settings.web_host)})
    elif not port_is_free(settings.web_host, settings.web_port):
        raise CommandError(
            f"web port {settings.web_port} on {settings.web_host} is in use "
            "(another worker?); choose one with --web-port or IOC_WEB_PORT"
        )
    shown = f"http://{settings.web_host}:{settings.web_port}"
    say(f"worker web server {shown} (/metrics, /health)")
    ensure_data_dir(settings)
    conn = connect(settings, may_start=True)
    try:
        if conn.embedded is None:
            create_topics(settings, conn.cluster)
        seed_group_offsets(settings, conn.cluster)
        runtime = create_app(settings, conn.cluster)
        gc_tuning.tune()
        worker = faust.Worker(runtime.app, loglevel=settings.log_level)
        # Faust's terminal spinner, at log levels of warning and above, sets the root logger to
        # DEBUG so that every record turns it: every library's debug line is then built and
        # thrown away (aiokafka logs one per message sent), a tenth of a busy worker's time.
        worker.spinner = None
        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0
    finally:
        conn.close()
