"""The bare Faust baseline: an agent that only iterates a topic, as fast as Faust delivers.

    python -m bench.faust_count --broker HOST:PORT --topics T1,T2 --count N --out FILE
    python -m bench.faust_count ... --as-worker   # with the worker's Faust patches and settings

Writes {"messages": N, "seconds": S} to --out FILE, timed from the first message to the Nth,
then exits at once (the worker's own shutdown is not what is measured).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import faust
import orjson
from faust.types import StreamT

from ioc.kafka.cluster import Cluster
from ioc.settings import Settings
from ioc.streams.faust import gc_tuning
from ioc.streams.faust import patches as faust_patches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--topics", required=True, help="comma-separated")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--app-id", default=f"bench-faust-{time.monotonic_ns()}")
    parser.add_argument("--out", required=True, help="file to write the JSON result to")
    parser.add_argument(
        "--as-worker",
        action="store_true",
        help="run Faust as `ioc worker` does: its patches (ioc/streams/faust/patches.py) with "
        "the default IOC_FETCH_MAX_WAIT_MS, and its garbage collector thresholds",
    )
    args = parser.parse_args()
    if args.as_worker:
        faust_patches.apply(Settings().fetch_max_wait_ms, Cluster.at("127.0.0.1:9"))
    app = faust.App(
        args.app_id,
        broker=f"kafka://{args.broker}",
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="bench-faust-"),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=6.0,
        broker_heartbeat_interval=0.5,
    )
    topic = app.topic(*args.topics.split(","), value_serializer="raw", key_serializer="raw")
    seen = 0
    started = 0.0

    async def count(stream: StreamT[Any]) -> None:
        nonlocal seen, started
        async for _ in stream:
            if seen == 0:
                started = time.perf_counter()
            seen += 1
            if seen >= args.count:
                elapsed = time.perf_counter() - started
                # A file: the worker takes over the process's standard streams. Blocking is
                # fine here: the measurement is over and the process ends.
                Path(args.out).write_bytes(orjson.dumps({"messages": seen, "seconds": elapsed}))  # noqa: ASYNC240
                os._exit(0)

    app.agent(topic, name="count")(count)
    worker = faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False)
    worker.spinner = None  # as `ioc worker` runs: see ioc/cli/worker.py
    if args.as_worker:
        gc_tuning.tune()
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
