"""Messages per second through Kafka, in one run on the same preloaded data: the ceiling (a raw
aiokafka consumer decoding each message with orjson) and the baseline (a bare Faust agent).

    python -m bench.stream [--messages 200000] [--quick]

The embedded broker is started, a topic is preloaded with single-reading messages from the
simulator (so the producer is not what is measured), then each reader consumes it from the
beginning. The pipeline's own figures and the peer come next (issue 7).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.common import write_result
from ioc.admin import ensure_topics
from ioc.broker import EmbeddedBroker
from ioc.topics import TopicSpec

PARTITIONS = 4


def messages(count: int) -> list[tuple[bytes, bytes]]:
    from simulators.generate import Simulation
    from simulators.scenario import Batching, load_scenario

    scenario = load_scenario("load").model_copy(update={"batch": Batching(size=1)})
    out: list[tuple[bytes, bytes]] = []
    while len(out) < count:
        for record in Simulation(scenario).records():
            out.append((record.key or b"", record.value))
            if len(out) >= count:
                break
    return out


async def preload(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]]) -> float:
    await ensure_topics([bootstrap], [TopicSpec(topic, PARTITIONS)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks=1)
    await producer.start()
    started = time.perf_counter()
    try:
        for key, value in items:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def ceiling(bootstrap: str, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
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


def faust_baseline(bootstrap: str, topic: str, count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.faust_count",
                "--broker",
                bootstrap,
                "--topic",
                topic,
                "--count",
                str(count),
                "--out",
                str(result),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if not result.exists():
            raise RuntimeError(
                f"the Faust baseline wrote no result (exit {out.returncode}): {out.stderr[-2000:]}"
            )
        return dict(orjson.loads(result.read_bytes()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="50 000 messages")
    args = parser.parse_args(argv)
    count = 50_000 if args.quick else args.messages
    items = messages(count)
    broker = EmbeddedBroker()
    broker.start()
    try:
        topic = f"bench.single.{time.monotonic_ns()}"
        produced = asyncio.run(preload(broker.bootstrap, topic, items))
        ceiling_s = asyncio.run(ceiling(broker.bootstrap, topic, count))
        baseline = faust_baseline(broker.bootstrap, topic, count)
    finally:
        broker.stop()
    result = {
        "messages": count,
        "preload_msg_per_s": round(count / produced),
        "ceiling_aiokafka_orjson_msg_per_s": round(count / ceiling_s),
        "baseline_faust_agent_msg_per_s": round(count / baseline["seconds"]),
    }
    result["baseline_to_ceiling"] = round(
        result["baseline_faust_agent_msg_per_s"] / result["ceiling_aiokafka_orjson_msg_per_s"], 3
    )
    path = write_result("stream", result)
    for name, value in result.items():
        print(f"{name:>36}  {value:,}" if isinstance(value, int) else f"{name:>36}  {value}")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
