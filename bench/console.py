"""The console under the load of a province: 50 000 sensors and 10 000 incidents in the store.

    python -m bench.console              # both stores, the event stream and the page
    python -m bench.console --quick      # fewer requests and a shorter stream

1. incident list: GET /api/incidents with the filters an operator uses (none, a district, open
   and severe, a bounding box, a text, a deep page), on SQLite and on PostgreSQL (the test
   suite's own server, tests/services), p50/p95/p99 per query; the baseline is GET /api/me in
   the same run (authentication and HTTP, no store), so the store's share shows as a ratio;
2. live events: 100 SSE clients connected while 500 incident versions/s are published for
   --seconds, publication → received by each client, p50/p95/p99;
3. the page: Debian's Chromium opens the map with all 50 000 sensors, the time until they are
   drawn, and frames per second while the map pans (requestAnimationFrame), against the same
   pan with the sensor layers hidden (WebGL is SwiftShader, software, on this machine).
Results go to bench/results/<date>-console.json and are printed as a table.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from bench.common import write_result
from ioc.console.access import Role
from ioc.console.database import database_for
from ioc.console.tokens import TokenStore
from ioc.districts import DISTRICT_SLUGS
from ioc.incidents.lifecycle import Policy, apply_alert
from ioc.kafka.admin import ensure_topics
from ioc.kafka.cluster import Cluster
from ioc.kafka.embedded import EmbeddedBroker
from ioc.kafka.topics import INCIDENTS, SENSORS, topic_specs
from ioc.schemas.alerts import Alert, Evidence
from ioc.schemas.common import Text
from ioc.schemas.incidents import Incident
from ioc.settings import Settings
from ioc.sinks.postgres import PostgresSink
from ioc.sinks.sqlite import SqliteSink

T0 = datetime(2026, 11, 1, tzinfo=UTC)
BENCH_ID = re.compile(rb'"incident_id":"(INC-BENCH-[0-9]+)"')
SEVERITIES = ("extreme", "severe", "moderate", "minor")
BBOX = (107.2, 11.2, 108.8, 12.4)
POLICY = Policy(ack_sla={})


def incidents(count: int, seed: int = 7) -> list[Incident]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        at = T0 + timedelta(seconds=n * 60)
        alert = Alert(
            alert_id=f"bench:{n:016x}",
            status="firing",
            rule_id=rng.choice(["water-above-alarm", "air-poor", "traffic-jam", "fire-smoke"]),
            ruleset_version="v1",
            zoneset_version="z1",
            subject=f"sensor-{n}",
            severity=rng.choice(SEVERITIES),
            category="Met",
            title=Text(vi=f"Sự cố số {n}", en=f"Incident {n}"),
            district=rng.choice([*DISTRICT_SLUGS, None]),
            lat=rng.uniform(BBOX[1], BBOX[3]),
            lon=rng.uniform(BBOX[0], BBOX[2]),
            event_time=at,
            raised_at=at,
            evidence=[Evidence(sensor_id=f"sensor-{n}", field="v", value=1.0, ts=at)],
        )
        incident = apply_alert(None, alert, POLICY, at)
        assert incident is not None
        if rng.random() < 0.7:
            incident = incident.model_copy(update={"status": "auto_resolved"})
        out.append(incident)
    return out


def source_messages(
    sensors: int, per_source: int = 100, seed: int = 9
) -> list[tuple[bytes, bytes]]:
    rng = random.Random(seed)
    now = datetime.now(UTC).isoformat()
    out = []
    for s in range(sensors // per_source):
        source = f"gw-{s:05d}"
        district = DISTRICT_SLUGS[s % len(DISTRICT_SLUGS)]
        statuses: list[dict[str, Any]] = [
            {
                "sensor_id": f"trf-{s:05d}-{n:03d}",
                "kind": "traffic",
                "source_id": source,
                "district": district,
                "zones": [],
                "lat": rng.uniform(BBOX[1], BBOX[3]),
                "lon": rng.uniform(BBOX[0], BBOX[2]),
                "status": rng.choices(["ok", "offline", "implausible"], [90, 7, 3])[0],
                "reason": None,
                "last_seen": now,
                "values": {"vehicle_count": rng.randint(0, 30)},
                "aqi": None,
                "published_at": now,
            }
            for n in range(per_source)
        ]
        out.append(
            (
                source.encode(),
                orjson.dumps({"source_id": source, "sensors": statuses, "published_at": now}),
            )
        )
    return out


async def produce(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_request_size=8 << 20)
    await producer.start()
    try:
        for key, value in items:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def fill_store(url: str, data_dir: Path, items: list[Incident]) -> str:
    """The incidents through the real sink; an operator's token; returns the token."""
    sink = SqliteSink(data_dir / "incidents.db") if url.startswith("sqlite") else PostgresSink(url)

    async def run() -> str:
        await sink.start()
        for start in range(0, len(items), 1000):
            await sink.write(items[start : start + 1000])
        await sink.stop()
        db = database_for(url, data_dir)
        await db.open()
        try:
            return await TokenStore(db).create("bench", Role("operator"))
        finally:
            await db.close()

    return asyncio.run(run())


@contextmanager
def console(env: dict[str, str], log: Path) -> Iterator[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.harness.consoles import ConsoleProcess

    proc = ConsoleProcess(env, log).start()
    try:
        yield proc.url
    finally:
        proc.stop()


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "n": len(ordered)}


def list_latencies(url: str, token: str, requests: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    queries: dict[str, dict[str, Any]] = {
        "me (baseline)": {},
        "newest 50": {},
        "one district": {"district": "da-lat"},
        "open and severe": {"status": "open", "severity": "severe"},
        "bounding box": {"bbox": "108.2,11.8,108.6,12.1"},
        "text": {"q": "số 12"},
    }
    out: dict[str, Any] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        # A cursor deep in the list: the 100th page of 50.
        cursor = None
        for _ in range(100):
            body = client.get(
                "/api/incidents", params={"limit": 50, **({"cursor": cursor} if cursor else {})}
            ).json()
            cursor = body["next_cursor"]
        queries["page 100"] = {"cursor": cursor}
        for name, params in queries.items():
            path = "/api/me" if name.startswith("me") else "/api/incidents"
            timings = []
            for _ in range(5):  # warm up
                client.get(path, params=params)
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path, params=params)
                timings.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            out[name] = percentiles(timings)
    return out


async def stream_latency(
    url: str, token: str, bootstrap: str, topic: str, clients: int, rate: float, seconds: float
) -> dict[str, Any]:
    sent: dict[str, float] = {}
    delays: list[float] = []
    opened = 0
    all_open = asyncio.Event()
    done = asyncio.Event()
    total = int(rate * seconds)

    async def client(http: httpx.AsyncClient) -> int:
        # Frames are scanned with a regular expression, not parsed line by line: the clients
        # share the machine with the console, and what is measured is the console.
        nonlocal opened
        got = 0
        headers = {"Authorization": f"Bearer {token}"}
        async with http.stream("GET", f"{url}/api/events", headers=headers) as response:
            opened += 1
            if opened == clients:
                all_open.set()
            rest = b""
            async for chunk in response.aiter_bytes():
                now = time.time()
                data = rest + chunk
                cut = data.rfind(b"\n\n") + 2
                whole, rest = data[:cut], data[cut:]
                for incident_id in BENCH_ID.findall(whole):
                    at = sent.get(incident_id.decode())
                    if at is not None:
                        delays.append(now - at)
                        got += 1
                if got >= total or done.is_set():
                    return got
        return got

    limits = httpx.Limits(max_connections=clients + 10)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=None), limits=limits) as http:
        tasks = [asyncio.create_task(client(http)) for _ in range(clients)]
        await asyncio.wait_for(all_open.wait(), 60)
        versions = incidents(total, seed=11)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
        await producer.start()
        started = time.monotonic()
        try:
            for n, incident in enumerate(versions):
                due = started + n / rate
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                body = incident.model_copy(update={"incident_id": f"INC-BENCH-{n:08d}"})
                sent[body.incident_id] = time.time()
                await producer.send(
                    topic, body.model_dump_json().encode(), key=body.incident_id.encode()
                )
            await producer.flush()
        finally:
            await producer.stop()
        published_s = time.monotonic() - started
        try:
            await asyncio.wait_for(asyncio.gather(*tasks), 60)
        except TimeoutError:
            done.set()
            for task in tasks:
                task.cancel()
    expected = total * clients
    return {
        "clients": clients,
        "offered_per_s": rate,
        "published_per_s": round(total / published_s),
        "delivered": len(delays),
        "expected": expected,
        **percentiles(delays),
    }


def page_figures(url: str, token: str, sensors: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"],
        )
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            started = time.perf_counter()
            page.goto(f"{url}/#token={token}")
            page.wait_for_selector("body[data-ready=true]", timeout=120_000)
            ready_s = time.perf_counter() - started
            page.wait_for_function(
                "() => window.ioc.map.map.querySourceFeatures('sensors').length > 0"
                " && window.ioc.map.map.loaded()",
                timeout=120_000,
            )
            drawn_s = time.perf_counter() - started
            # Frames per second while the map pans, without the sensor layers (the baseline:
            # the software renderer on this machine) and with them.
            pan = """async (show) => {
                const map = window.ioc.map.map;
                for (const id of ['sensors', 'sensor-clusters', 'sensor-cluster-counts'])
                    map.setLayoutProperty(id, 'visibility', show ? 'visible' : 'none');
                await new Promise(r => map.once('idle', r));
                let frames = 0; let running = true;
                const tick = () => { frames++; if (running) requestAnimationFrame(tick); };
                requestAnimationFrame(tick);
                const t0 = performance.now();
                map.panBy([600, 0], {duration: 1500});
                await new Promise(r => setTimeout(r, 1600));
                map.panBy([-600, 0], {duration: 1500});
                await new Promise(r => setTimeout(r, 1600));
                running = false;
                return frames / ((performance.now() - t0) / 1000);
            }"""
            without = page.evaluate(pan, False)
            with_sensors = page.evaluate(pan, True)
            return {
                "sensors": sensors,
                "ready_s": round(ready_s, 2),
                "sensors_drawn_s": round(drawn_s, 2),
                "pan_fps_without_sensors": round(without, 1),
                "pan_fps": round(with_sensors, 1),
                "fps_ratio": round(with_sensors / without, 2),
            }
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sensors", type=int, default=50_000)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--requests", type=int, help="requests per query (300; --quick 60)")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, help="stream duration (20; --quick 6)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-page", action="store_true")
    args = parser.parse_args(argv)
    requests = args.requests or (60 if args.quick else 300)
    seconds = args.seconds or (6.0 if args.quick else 20.0)
    items = incidents(args.incidents)
    result: dict[str, Any] = {"incidents": args.incidents, "sensors": args.sensors}
    broker = EmbeddedBroker()
    broker.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            stores: list[tuple[str, str]] = [
                ("sqlite", f"sqlite://{base / 'sqlite' / 'incidents.db'}")
            ]
            pg = None
            if not args.no_postgres:
                sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
                from tests.services.postgres import PostgresServer

                pg = PostgresServer().start()
                stores.append(("postgresql", pg.url()))
            try:
                for name, url in stores:
                    data = base / name
                    data.mkdir(parents=True, exist_ok=True)
                    prefix = f"bench{time.monotonic_ns()}."
                    asyncio.run(
                        ensure_topics(
                            Cluster.at(broker.bootstrap), topic_specs(Settings(topic_prefix=prefix))
                        )
                    )
                    print(f"{name}: filling the store with {args.incidents:,} incidents ...")
                    token = fill_store(url, data, items)
                    print(f"{name}: {args.sensors:,} sensor statuses ...")
                    asyncio.run(
                        produce(broker.bootstrap, prefix + SENSORS, source_messages(args.sensors))
                    )
                    env = {
                        "PATH": "/usr/bin:/bin",
                        "IOC_BROKER": f"kafka://{broker.bootstrap}",
                        "IOC_TOPIC_PREFIX": prefix,
                        "IOC_DATA_DIR": str(data),
                        "IOC_CONSOLE_STORE": url,
                        "IOC_LOG_LEVEL": "warning",
                    }
                    with console(env, data / "console.log") as console_url:
                        print(f"{name}: incident list ...")
                        result[f"list_{name}"] = list_latencies(console_url, token, requests)
                        if name == "sqlite":
                            print(f"live events: {args.clients} clients at {args.rate:g}/s ...")
                            result["stream"] = asyncio.run(
                                stream_latency(
                                    console_url,
                                    token,
                                    broker.bootstrap,
                                    prefix + INCIDENTS,
                                    args.clients,
                                    args.rate,
                                    seconds,
                                )
                            )
                            if not args.no_page:
                                print("the page with every sensor ...")
                                result["page"] = page_figures(console_url, token, args.sensors)
            finally:
                if pg is not None:
                    pg.close()
    finally:
        broker.stop()
    path = write_result("console-quick" if args.quick else "console", result)
    print(table(result))
    print(f"written to {path}")
    return 0


def table(result: dict[str, Any]) -> str:
    rows = [f"{'query':<18}{'store':<12}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"]
    for store in ("sqlite", "postgresql"):
        for query, f in result.get(f"list_{store}", {}).items():
            rows.append(f"{query:<18}{store:<12}{f['p50_ms']:>9}{f['p95_ms']:>9}{f['p99_ms']:>9}")
    s = result.get("stream")
    if s:
        rows.append(
            f"live events: {s['clients']} clients, {s['published_per_s']}/s published, "
            f"{s['delivered']:,} of {s['expected']:,} delivered: p50 {s['p50_ms']} ms, "
            f"p95 {s['p95_ms']} ms, p99 {s['p99_ms']} ms"
        )
    p = result.get("page")
    if p:
        rows.append(
            f"page: {p['sensors']:,} sensors; ready {p['ready_s']} s, "
            f"drawn {p['sensors_drawn_s']} s; while panning {p['pan_fps']} frames/s, "
            f"{p['pan_fps_without_sensors']} without the sensor layers ({p['fps_ratio']})"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
