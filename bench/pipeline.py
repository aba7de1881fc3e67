"""The ioc worker measured from the outside: one `ioc worker` process, its topics preloaded.

Throughput: the worker starts on topics that already hold every message, and is timed from
its first message received (Faust's count, before the message is handled: the first batch's
work is inside the time) to the last incident stored in its SQLite sink (every reading
counted and every stream partition drained). Its /metrics and /health are polled every
POLL_S: the figure is exact to about 2 × POLL_S.

Latency: a fresh worker reads while a producer offers messages at a fixed rate; each incident
opened (or reopened) is matched to the newest reading of its evidence, and the time from
that reading's publication to the incident's row in SQLite is its latency. Incidents of
tumbling windows also wait for their window to close, so the figure errs high, never low.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from ioc.kafka.admin import ensure_topics
from ioc.kafka.cluster import Cluster
from ioc.kafka.topics import SENSOR_TOPICS, topic_specs
from ioc.ports import free_port
from ioc.schemas import Decoder
from ioc.settings import Settings

POLL_S = 0.1
SESSION_TIMEOUT = "6"  # a short group session: the worker joins in a few seconds (Tansu)

Item = tuple[str, bytes, bytes]  # logical topic (no prefix), key, value


def simulated(scenario_name: str, count: int | None = None, **update: Any) -> list[Item]:
    """The first `count` messages (all, if None) of a scenario; `update` changes its fields
    (batch, sensors, duration) before it is generated."""
    from simulators.generate import Simulation
    from simulators.scenario import load_scenario

    scenario = load_scenario(scenario_name)
    if update:
        scenario = scenario.model_copy(update=update)
    out: list[Item] = []
    for record in Simulation(scenario).records():
        out.append((record.topic, record.key or b"", record.value))
        if count is not None and len(out) >= count:
            break
    return out


def readings_in(items: Sequence[Item]) -> int:
    """Readings the worker will accept from these messages (what it counts)."""
    decoder = Decoder()
    return sum(len(decoder.decode(value).readings) for _, _, value in items)


def settings_for(prefix: str) -> Settings:
    return Settings(topic_prefix=prefix, app_id=f"bench-{prefix.strip('.')}")


async def create_topics(bootstrap: str, prefix: str) -> None:
    await ensure_topics(Cluster.at(bootstrap), topic_specs(settings_for(prefix)))


async def preload(bootstrap: str, prefix: str, items: Sequence[Item]) -> float:
    """Every message into the prefixed sensor topics; returns seconds taken."""
    await create_topics(bootstrap, prefix)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks=1)
    await producer.start()
    started = time.perf_counter()
    try:
        for topic, key, value in items:
            await producer.send(prefix + topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()
    return time.perf_counter() - started


def sensor_topics(prefix: str) -> list[str]:
    return [prefix + t for t in SENSOR_TOPICS]


@dataclass
class Worker:
    """An `ioc worker` subprocess on its own topics, data directory and consumer group."""

    bootstrap: str
    prefix: str
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    # Settings of this run (IOC_* variables), and its own consumer group when given one.
    env: dict[str, str] | None = None
    group_suffix: str = ""

    def start(self) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
        settings = settings_for(self.prefix)
        env.update(
            IOC_BROKER=f"kafka://{self.bootstrap}",
            IOC_TOPIC_PREFIX=self.prefix,
            IOC_APP_ID=settings.app_id + self.group_suffix,
            IOC_DATA_DIR=str(self.data_dir),
            IOC_WEB_PORT=str(self.port),
            IOC_SINKS="sqlite://",
            IOC_SESSION_TIMEOUT=SESSION_TIMEOUT,
            IOC_HEARTBEAT_INTERVAL="0.5",
            IOC_LOG_LEVEL="warning",
        )
        env.update(self.env or {})
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "worker.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ioc", "worker"], env=env, stdout=log, stderr=log
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def http_get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def readings(self) -> int:
        return int(self._metric("ioc_readings_total{"))

    def received(self) -> int:
        """Messages the worker's consumer has handed to its streams (before they are handled)."""
        return int(self._metric("ioc_faust_messages_received_total "))

    def _metric(self, prefix: str) -> float:
        status, body = self._get("/metrics")
        if status != 200:
            return 0.0
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in body.decode().splitlines()
            if line.startswith(prefix)
        )

    def drained(self) -> bool:
        """Every stream partition read to its end (sensor topics, alerts, incidents, ...)."""
        status, body = self._get("/health")
        if status != 200:
            return False
        partitions = orjson.loads(body).get("partitions", {})
        return bool(partitions) and all(p.get("lag") == 0 for p in partitions.values())

    def peak_rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc status")

    def check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            tail = (self.data_dir / "worker.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the worker exited with {self.proc.returncode}:\n{tail}")

    def store(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.data_dir / "incidents.db")
        conn.row_factory = sqlite3.Row
        return conn

    def last_stored(self) -> float | None:
        if not (self.data_dir / "incidents.db").exists():
            return None
        with self.store() as conn:
            row = conn.execute("SELECT max(stored_at) AS t FROM incident_versions").fetchone()
        return datetime.fromisoformat(row["t"]).timestamp() if row and row["t"] else None


@dataclass(frozen=True)
class Throughput:
    messages: int
    readings: int
    seconds: float
    incidents: int
    peak_rss_mb: float

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.seconds

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.seconds


def throughput(
    bootstrap: str,
    prefix: str,
    data_dir: Path,
    messages: int,
    readings: int,
    timeout: float,
    env: dict[str, str] | None = None,
    group_suffix: str = "",
) -> Throughput:
    """Start a worker on preloaded topics; time it from its first message received to its last
    incident stored. `env`: settings of this run; `group_suffix`: a consumer group of its own,
    so that several runs read the same topics from the beginning."""
    worker = Worker(bootstrap, prefix, data_dir, env=env, group_suffix=group_suffix)
    worker.start()
    try:
        deadline = time.monotonic() + timeout
        first: float | None = None
        counted = 0
        while counted < readings:
            worker.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{counted} of {readings} readings in {timeout:.0f} s")
            counted = worker.readings()
            if first is None and (counted or worker.received()):
                first = time.time()
            time.sleep(POLL_S)
        done = time.time()
        while not worker.drained():
            worker.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError("the worker did not drain its partitions")
            time.sleep(POLL_S)
        assert first is not None
        last = worker.last_stored() or done
        rss = worker.peak_rss_mb()
        incidents = 0
        if (data_dir / "incidents.db").exists():
            with worker.store() as conn:
                incidents = conn.execute("SELECT count(*) FROM incidents").fetchone()[0]
    finally:
        worker.stop()
    return Throughput(messages, readings, max(done, last) - first, incidents, rss)


async def offer(
    bootstrap: str, prefix: str, items: Sequence[Item], rate: float, warmup: int = 0
) -> dict[tuple[str, int, int], float]:
    """Send at `rate` messages/s; returns each message's publication time by position, but
    for the first `warmup` messages."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1)
    await producer.start()
    sent: list[tuple[float, asyncio.Future[Any]]] = []
    try:
        # A producer's first send to a topic waits for its metadata; the messages sent
        # meanwhile queue in the producer, and that wait is not the pipeline's.
        for topic in sorted({prefix + topic for topic, _, _ in items}):
            await producer.partitions_for(topic)
        started = time.monotonic()
        for n, (topic, key, value) in enumerate(items):
            due = started + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sent.append((time.time(), await producer.send(prefix + topic, value, key=key)))
        await producer.flush()
        published: dict[tuple[str, int, int], float] = {}
        for n, (at, fut) in enumerate(sent):
            meta = await fut
            if n >= warmup:
                published[(meta.topic, meta.partition, meta.offset)] = at
        return published
    finally:
        await producer.stop()


def latency(
    bootstrap: str,
    prefix: str,
    data_dir: Path,
    items: Sequence[Item],
    rate: float,
    warmup: int = 0,
) -> dict[str, Any]:
    """Publish → incident stored, for every incident opened while `items` are offered at
    `rate` messages/s to a running worker, but for those whose evidence is in the first
    `warmup` messages: they warm up a worker that has read nothing yet."""
    asyncio.run(create_topics(bootstrap, prefix))
    worker = Worker(bootstrap, prefix, data_dir)
    worker.start()
    try:
        # Readiness, not a guess: the worker has joined and reads every partition.
        deadline = time.monotonic() + 60
        while not worker.drained():
            worker.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError("the worker did not become ready")
            time.sleep(POLL_S)
        published = asyncio.run(offer(bootstrap, prefix, items, rate, warmup))
        while not worker.drained() or worker.readings() == 0:
            worker.check_alive()
            time.sleep(POLL_S)
        with worker.store() as conn:
            rows = conn.execute("SELECT body, stored_at FROM incident_versions").fetchall()
    finally:
        worker.stop()
    samples: list[float] = []
    for row in rows:
        incident = orjson.loads(row["body"])
        if incident["history"][-1]["action"] not in ("open", "reopen"):
            continue
        times = [
            published[key]
            for e in incident["evidence"]
            if (key := (e.get("topic"), e.get("partition"), e.get("offset"))) in published
        ]
        if times:
            stored = datetime.fromisoformat(row["stored_at"]).timestamp()
            samples.append(stored - max(times))
    samples.sort()
    if not samples:
        raise RuntimeError("no incident opened during the latency run")
    return {
        "offered_msg_per_s": round(rate),
        "messages": len(items),
        "incidents_opened": len(samples),
        "p50_ms": round(percentile(samples, 0.50) * 1000, 1),
        "p95_ms": round(percentile(samples, 0.95) * 1000, 1),
        "p99_ms": round(percentile(samples, 0.99) * 1000, 1),
        "max_ms": round(samples[-1] * 1000, 1),
    }


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ordered sample."""
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return ordered[rank - 1]
