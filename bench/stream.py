"""Where the pipeline stands, in one run on the same preloaded data: the ceiling, the bare
Faust baseline, the ioc worker, its latency and memory, and the Quix Streams peer.

    python -m bench.stream                  # the full run (about 7 minutes here)
    python -m bench.stream --quick          # under 2 minutes, for regular use
    python -m bench.stream --broker kafka   # the same run on Apache Kafka

The embedded broker (Tansu) by default; `--broker kafka` starts a throwaway single-node Apache
Kafka (KRaft) from the jars `scripts/fetch-kafka.sh` fetches, as the test suite does, and
`--bootstrap HOST:PORT` uses a running cluster (PLAINTEXT, topics created by the benchmark).

The broker is started and two data sets are preloaded from the simulator, so the producer is
not what is measured:
- single readings: the `load` scenario (traffic, cameras, air and water stations), one
  reading per message;
- gateway batches: counting stations behind gateways (the `load` scenario with --sensors
  distinct sensors, two minutes of readings), up to 100 readings per message.
Then each reader consumes them from the beginning:
1. ceiling: a raw aiokafka consumer decoding each message with orjson;
2. baseline: a Faust agent that only iterates the stream (bench/faust_count.py), with
   Faust's defaults ("faust") and patched as the worker runs it ("faust+": ioc's Faust
   patches and fetch wait, IOC_FETCH_MAX_WAIT_MS);
3. ioc: one `ioc worker` with the default zones and rule pack, from topic to incidents stored
   in SQLite, and its peak RSS (bench/pipeline.py); "ioc-" is the same worker without
   publishing sensor statuses (IOC_SENSOR_STATUS_INTERVAL=0s): "ioc ÷ ioc-" is their cost;
4. latency: publish → incident stored, while a scenario with incidents is offered at half the
   worker's measured maximum (single readings); its first play warms up the fresh worker and
   is not measured;
5. peer: the same job in Quix Streams (bench/quix_peer.py; `pip install -e '.[bench]'`).
Results go to bench/results/<date>-stream[-kafka][-quick].json and are printed as a table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from bench import pipeline
from bench.common import write_result
from ioc.kafka.admin import topic_partitions
from ioc.kafka.embedded import EmbeddedBroker


def single_readings(count: int) -> list[pipeline.Item]:
    from simulators.scenario import Batching

    return pipeline.simulated("load", count, batch=Batching(size=1))


def gateway_batches(sensors: int) -> list[pipeline.Item]:
    """Counting stations only (they sit behind gateways), spread over five areas."""
    from simulators.scenario import Batching, Counts

    areas = ("da-lat", "bao-loc", "duc-trong", "bao-lam", "rest")
    counts = {area: Counts(traffic=sensors // len(areas)) for area in areas}
    return pipeline.simulated(
        "load",
        None,
        sensors=counts,
        duration=timedelta(minutes=2),
        episodes=[],
        # Long enough that a gateway fills its batches of 100 within the 30 s interval.
        batch=Batching(size=100, linger=timedelta(seconds=30)),
    )


def with_incidents(repeats: int) -> list[list[pipeline.Item]]:
    """The demo scenario (fires, floods, accidents, intrusions) played `repeats` times, each
    time one scenario-length later, single readings: one list of messages per play."""
    from simulators.generate import Simulation
    from simulators.scenario import Batching, load_scenario

    base = load_scenario("demo").model_copy(update={"batch": Batching(size=1), "malformed": 0.0})
    plays: list[list[pipeline.Item]] = []
    for n in range(repeats):
        scenario = base.with_start(base.start + n * base.duration)
        plays.append([(r.topic, r.key or b"", r.value) for r in Simulation(scenario).records()])
    return plays


async def ceiling(bootstrap: str, topics: Sequence[str], count: int) -> float:
    """Seconds for a raw consumer to read and orjson-decode `count` messages of `topics`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [tp for t in topics for tp in await topic_partitions(consumer, t)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        started = 0.0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batch.values():
                if records and not started:
                    started = time.perf_counter()
                for record in records:
                    orjson.loads(record.value)
                seen += len(records)
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def child(
    module: str, bootstrap: str, topics: Sequence[str], count: int, *extra: str
) -> dict[str, Any]:
    """Run a measuring child process (`module`) that writes its result to a file."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                module,
                "--broker",
                bootstrap,
                "--topics",
                ",".join(topics),
                "--count",
                str(count),
                "--out",
                str(result),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if not result.exists():
            raise RuntimeError(
                f"{module} wrote no result (exit {out.returncode}): {out.stderr[-2000:]}"
            )
        return dict(orjson.loads(result.read_bytes()))


def peer_available() -> bool:
    try:
        import quixstreams  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller data sets: under two minutes")
    parser.add_argument(
        "--singles", type=int, help="single-reading messages (200 000; load has 156 859)"
    )
    parser.add_argument("--sensors", type=int, help="distinct sensors in the batches (50 000)")
    parser.add_argument(
        "--repeats", type=int, help="plays of the demo for latency, the first unmeasured (6)"
    )
    parser.add_argument("--no-peer", action="store_true", help="skip Quix Streams")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--broker",
        choices=("embedded", "kafka"),
        default="embedded",
        help="the embedded broker (Tansu), or a throwaway Apache Kafka node (default: embedded)",
    )
    where.add_argument("--bootstrap", metavar="HOST:PORT", help="a running Kafka cluster instead")
    args = parser.parse_args(argv)
    n_singles = args.singles or (20_000 if args.quick else 200_000)
    n_sensors = args.sensors or (20_000 if args.quick else 50_000)
    # The first play warms the worker up and is not measured.
    repeats = max(2, args.repeats or (2 if args.quick else 6))
    run_peer = not args.no_peer and peer_available()
    if not args.no_peer and not run_peer:
        print("Quix Streams is not installed (pip install -e '.[bench]'): no peer figures")

    print(f"generating {n_singles:,} single readings and {n_sensors:,} sensors' batches ...")
    singles = single_readings(n_singles)
    batches = gateway_batches(n_sensors)
    plays = with_incidents(repeats)
    incidents_data = [item for play in plays for item in play]
    singles_readings = pipeline.readings_in(singles)
    batch_readings = pipeline.readings_in(batches)
    stamp = time.strftime("%H%M%S")
    s_prefix, b_prefix = f"bench-{stamp}-s.", f"bench-{stamp}-b."
    s_topics, b_topics = pipeline.sensor_topics(s_prefix), pipeline.sensor_topics(b_prefix)
    result: dict[str, Any] = {
        "broker": "external" if args.bootstrap else args.broker,
        "single": {"messages": len(singles), "readings": singles_readings},
        "batch": {
            "messages": len(batches),
            "readings": batch_readings,
            "distinct_sensors": n_sensors,
        },
    }
    with running_broker(args.broker, args.bootstrap) as (bootstrap, version):
        result["broker_version"] = version
        print("preloading ...")
        produced = asyncio.run(pipeline.preload(bootstrap, s_prefix, singles))
        asyncio.run(pipeline.preload(bootstrap, b_prefix, batches))
        result["preload_msg_per_s"] = round(len(singles) / produced)
        for name, topics, items in (("single", s_topics, singles), ("batch", b_topics, batches)):
            print(f"{name}: ceiling ...")
            seconds = asyncio.run(ceiling(bootstrap, topics, len(items)))
            result[name]["ceiling"] = rates(len(items), result[name]["readings"], seconds)
            print(f"{name}: Faust baseline ...")
            seconds = child("bench.faust_count", bootstrap, topics, len(items))["seconds"]
            result[name]["baseline"] = rates(len(items), result[name]["readings"], seconds)
            print(f"{name}: Faust baseline as the worker runs it ...")
            seconds = child("bench.faust_count", bootstrap, topics, len(items), "--as-worker")[
                "seconds"
            ]
            result[name]["tuned"] = rates(len(items), result[name]["readings"], seconds)
            if run_peer:
                print(f"{name}: Quix Streams peer ...")
                seconds = child("bench.quix_peer", bootstrap, topics, len(items))["seconds"]
                result[name]["peer"] = rates(len(items), result[name]["readings"], seconds)
        with tempfile.TemporaryDirectory() as tmp:
            for name, prefix in (("single", s_prefix), ("batch", b_prefix)):
                print(f"{name}: ioc worker ...")
                run = pipeline.throughput(
                    bootstrap,
                    prefix,
                    Path(tmp) / name,
                    result[name]["messages"],
                    result[name]["readings"],
                    timeout=900,
                )
                result[name]["ioc"] = rates(run.messages, run.readings, run.seconds)
                result[name]["ioc"]["incidents"] = run.incidents
                result[name]["ioc"]["peak_rss_mb"] = round(run.peak_rss_mb)
                print(f"{name}: ioc worker without sensor statuses ...")
                quiet = pipeline.throughput(
                    bootstrap,
                    prefix,
                    Path(tmp) / f"{name}-nostatus",
                    result[name]["messages"],
                    result[name]["readings"],
                    timeout=900,
                    env={"IOC_SENSOR_STATUS_INTERVAL": "0s"},
                    group_suffix="-nostatus",
                )
                result[name]["ioc-"] = rates(quiet.messages, quiet.readings, quiet.seconds)
                result[name]["ioc-"]["peak_rss_mb"] = round(quiet.peak_rss_mb)
            rate = result["single"]["ioc"]["msg_per_s"] / 2
            print(f"latency at {rate:,.0f} messages/s ...")
            result["latency"] = pipeline.latency(
                bootstrap,
                f"bench-{stamp}-l.",
                Path(tmp) / "latency",
                incidents_data,
                rate,
                warmup=len(plays[0]),
            )
    add_ratios(result)
    # A quick run never replaces the full run of the day (the one docs/performance.md quotes).
    kind = "" if result["broker"] == "embedded" else f"-{result['broker']}"
    path = write_result(f"stream{kind}{'-quick' if args.quick else ''}", result)
    print(table(result))
    print(f"written to {path}")
    return 0


@contextlib.contextmanager
def running_broker(kind: str, bootstrap: str | None) -> Iterator[tuple[str, str]]:
    """The bootstrap address and a name of the broker the run measures."""
    if bootstrap is not None:
        yield bootstrap, "external"
        return
    if kind == "embedded":
        broker = EmbeddedBroker()
        broker.start()
        try:
            yield broker.bootstrap, "tansu (embedded)"
        finally:
            broker.stop()
        return
    # The test suite's throwaway Kafka: both are development tools of this repository.
    from tests.services import kafka

    home = kafka.home()
    if home is None:
        raise SystemExit("Apache Kafka's jars are not fetched: run scripts/fetch-kafka.sh")
    cluster = kafka.KafkaCluster(home, nodes=1)
    print(f"starting Apache Kafka {kafka.version()} ...")
    cluster.start()
    try:
        yield cluster.bootstrap, f"kafka-{kafka.version()}"
    finally:
        cluster.close()


def rates(messages: int, readings: int, seconds: float) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 2),
        "msg_per_s": round(messages / seconds),
        "readings_per_s": round(readings / seconds),
    }


def add_ratios(result: dict[str, Any]) -> None:
    for name in ("single", "batch"):
        figures = result[name]
        for who in ("baseline", "tuned", "peer", "ioc", "ioc-"):
            if who not in figures:
                continue
            mine = figures[who]["msg_per_s"]
            for against in ("ceiling", "baseline", "tuned", "peer", "ioc-"):
                if against != who and against in figures:
                    figures[who][f"to_{against}"] = round(mine / figures[against]["msg_per_s"], 3)


READERS = {
    "ceiling": "ceiling",
    "baseline": "faust",
    "tuned": "faust+",
    "peer": "quix",
    "ioc-": "ioc-",
    "ioc": "ioc",
}


def table(result: dict[str, Any]) -> str:
    rows = [
        f"broker: {result.get('broker_version', 'tansu (embedded)')}",
        f"{'':<10}{'reader':<10}{'msg/s':>10}{'readings/s':>12}"
        f"{'÷ceiling':>10}{'÷faust':>8}{'÷faust+':>9}{'÷quix':>8}{'÷ioc-':>8}",
    ]
    for name in ("single", "batch"):
        for who in ("ceiling", "baseline", "tuned", "peer", "ioc-", "ioc"):
            f = result[name].get(who)
            if f is None:
                continue
            rows.append(
                f"{name:<10}{READERS[who]:<10}{f['msg_per_s']:>10,}{f['readings_per_s']:>12,}"
                f"{_ratio(f, 'ceiling'):>10}{_ratio(f, 'baseline'):>8}{_ratio(f, 'tuned'):>9}"
                f"{_ratio(f, 'peer'):>8}{_ratio(f, 'ioc-'):>8}"
            )
    lat = result["latency"]
    rows.append(
        f"latency at {lat['offered_msg_per_s']:,} msg/s ({lat['incidents_opened']} incidents): "
        f"p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, p99 {lat['p99_ms']} ms"
    )
    rows.append(
        f"peak RSS of the worker: {result['single']['ioc']['peak_rss_mb']} MB (single), "
        f"{result['batch']['ioc']['peak_rss_mb']} MB "
        f"({result['batch']['distinct_sensors']:,} sensors, batches)"
    )
    return "\n".join(rows)


def _ratio(figures: dict[str, Any], against: str) -> str:
    value = figures.get(f"to_{against}")
    return f"{value:.2f}" if value is not None else ""


if __name__ == "__main__":
    raise SystemExit(main())
