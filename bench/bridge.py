"""The bridges' throughput and latency, each against a baseline measured in the same run.

    python -m bench.bridge                  # 50 000 MQTT messages, 10 s of HTTP (about 2 minutes)
    python -m bench.bridge --broker kafka   # on a throwaway Apache Kafka instead of Tansu
    python -m bench.bridge --messages 20000 --http-seconds 5

MQTT: a Mosquitto of its own (the Debian binary) and QoS 1 throughout. The messages are
queued first for a persistent session that is offline, then the reader connects and drains
them, so the publisher's speed is not what is measured:
- raw: a plain paho subscriber (automatic acknowledgements, nothing done with a message):
  what this broker and client library can deliver here; raw_buffered: the same with the
  bridge's paho client (ioc.bridge.paho_reads, which reads its socket in chunks);
  mosquitto_sub: Mosquitto's C client, what the broker itself can deliver;
- bridge: `ioc bridge mqtt` (its own process), each message produced to Kafka with acks=all
  and acknowledged to MQTT only after Kafka's answer; timed from its first message received
  to the last acknowledged (its /metrics, read ten times a second). "bridge ÷ raw" is the
  share of the broker's delivery rate the bridge keeps; its Kafka produce latency p50/p99
  come from its histogram.
HTTP (needs `wrk`, Debian's package): `ioc bridge http`, 16 connections for --http-seconds:
- health: GET /health of the same process (no Kafka): the server's own ceiling;
- ingest: POST /ingest/environment, a reading a request, 202 after Kafka's answer; requests/s
  and wrk's latency percentiles (to Kafka's acknowledgement, since the answer waits for it).
Results go to bench/results/<date>-bridge[-kafka].json and are printed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families

from bench.common import write_result
from bench.stream import running_broker
from ioc.bridge.mosquitto import mosquitto_binary
from ioc.bridge.paho_reads import BufferedClient
from tests.harness.bridges import BridgeProcess
from tests.services.mosquitto import MosquittoBroker

TOPIC = "lamdong/da-lat/environment/st-bench"
IOC = [sys.executable, "-m", "ioc"]


def payload(n: int) -> bytes:
    return orjson.dumps(
        {
            "kind": "environment",
            "sensor_id": f"env-{n % 500}",
            "source_id": "st-bench",
            "ts": f"2026-12-02T07:{(n // 500) % 60:02d}:{n % 60:02d}Z",
            "lat": 11.94,
            "lon": 108.44,
            "pm25": n % 300,
        }
    )


class paho_client:
    def __init__(self, broker: MosquittoBroker, client_id: str, *, clean: bool = True) -> None:
        self.broker = broker
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean
        )

    def __enter__(self) -> paho.Client:
        self.client.connect(self.broker.host, self.broker.port)
        return self.client

    def __exit__(self, *_: Any) -> None:
        self.client.disconnect()


def queue_for(broker: MosquittoBroker, session: str, subscribe: str, messages: int) -> None:
    """Make `session` a persistent subscriber, offline, with `messages` queued for it."""
    subscribed = threading.Event()
    with paho_client(broker, session, clean=False) as sub:
        sub.on_subscribe = lambda *_: subscribed.set()
        sub.loop_start()
        sub.subscribe(subscribe, qos=1)
        if not subscribed.wait(30):
            raise SystemExit("Mosquitto did not acknowledge the subscription")
        sub.loop_stop()
    publish(broker, messages)


def publish(broker: MosquittoBroker, messages: int) -> None:
    acked = threading.Semaphore(0)
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    pub.max_inflight_messages_set(1000)
    pub.on_publish = lambda *_: acked.release()
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    for n in range(messages):
        pub.publish(TOPIC, payload(n), qos=1)
    for _ in range(messages):
        if not acked.acquire(timeout=120):
            raise SystemExit("Mosquitto stopped acknowledging the publisher")
    pub.disconnect()
    pub.loop_stop()


def raw_drain(broker: MosquittoBroker, messages: int, client_class: Any = paho.Client) -> float:
    session = f"bench-raw-{time.monotonic_ns()}"
    queue_for(broker, session, TOPIC, messages)
    got = 0
    done = threading.Event()
    first: list[float] = []

    def on_message(*_: Any) -> None:
        nonlocal got
        if not first:
            first.append(time.perf_counter())
        got += 1
        if got >= messages:
            done.set()

    client = client_class(CallbackAPIVersion.VERSION2, client_id=session, clean_session=False)
    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    if not done.wait(300):
        raise SystemExit(f"the raw subscriber got {got} of {messages}")
    seconds = time.perf_counter() - first[0]
    client.disconnect()
    client.loop_stop()
    return seconds


def mosquitto_sub_drain(broker: MosquittoBroker, messages: int) -> float | None:
    """The same drain by Mosquitto's own C client: what the broker delivers to a client
    that costs next to nothing (timed with its connection, a few milliseconds)."""
    program = shutil.which("mosquitto_sub")
    if program is None:
        return None
    session = f"bench-sub-{time.monotonic_ns()}"
    queue_for(broker, session, TOPIC, messages)
    command = [program, "-h", broker.host, "-p", str(broker.port), "-i", session, "-c"]
    command += ["-q", "1", "-t", TOPIC, "-C", str(messages)]
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True, timeout=300)
    return time.perf_counter() - started


def metrics(url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=5).text):
        for sample in family.samples:
            key = sample.name + "".join(f"|{k}={v}" for k, v in sorted(sample.labels.items()))
            out[key] = sample.value
    return out


def quantile(samples: dict[str, Any], name: str, q: float) -> float | None:
    buckets = sorted(
        (float(k.split("le=")[1].split("|")[0]), v)
        for k, v in samples.items()
        if k.startswith(f"{name}_bucket") and "le=" in k
    )
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    for bound, count in buckets:
        if count >= q * total:
            return bound
    return None


def bridge_drain(
    broker: MosquittoBroker, env: dict[str, str], messages: int, log: Path
) -> dict[str, Any]:
    # The bridge's session, made beforehand with its client id and its subscription (a
    # bridge that stops cleanly unsubscribes), the messages queued in it.
    queue_for(broker, "bench-bridge", "lamdong/+/+/+", messages)
    bridge = BridgeProcess(env, log, broker.url, client_id="bench-bridge").start()
    proc, url = bridge.proc, bridge.url
    assert proc is not None
    try:
        first: float | None = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            now = time.perf_counter()
            samples = metrics(url)
            received = samples.get("ioc_bridge_received_total|transport=mqtt", 0)
            acked = samples.get("ioc_bridge_acknowledged_total|transport=mqtt", 0)
            if first is None and received > 0:
                first = now
            if acked >= messages:
                break
            if proc.poll() is not None:
                raise SystemExit(f"the bridge exited; see {log}")
            time.sleep(0.1)  # sampling its metrics ten times a second
        else:
            raise SystemExit(f"the bridge acknowledged {acked:g} of {messages} in 10 minutes")
        seconds = now - (first if first is not None else now)
        latency = "ioc_bridge_produce_latency_seconds"
        return {
            "seconds": round(max(seconds, 0.1), 2),
            "produce_latency_p50_s": quantile(samples, latency, 0.5),
            "produce_latency_p99_s": quantile(samples, latency, 0.99),
        }
    finally:
        bridge.stop()


def wrk(url: str, seconds: int, script: Path | None) -> dict[str, Any]:
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, flags=re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": round(float(found.group(1))) if found else None,
        "latency_p50": latency.get("50"),
        "latency_p99": latency.get("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def http_run(env: dict[str, str], seconds: int, base: Path) -> dict[str, Any]:
    registry = base / "devices.yaml"
    registry.write_text("sources:\n  - source_id: st-bench\n    apikey: bench-key\n")
    subprocess.run([*IOC, "devices", "load", str(registry)], env=env, check=True)
    script = base / "post.lua"
    body = payload(1).decode().replace('"', '\\"')
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "{body}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["X-API-Key"] = "bench-key"\n'
    )
    bridge = BridgeProcess(env, base / "http.log", None).start()
    try:
        health = wrk(f"{bridge.url}/health", seconds, None)
        ingest = wrk(f"{bridge.url}/ingest/environment", seconds, script)
    finally:
        bridge.stop()
    if health["requests_per_s"] and ingest["requests_per_s"]:
        ingest["to_health"] = round(ingest["requests_per_s"] / health["requests_per_s"], 3)
    return {"health": health, "ingest": ingest}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--broker", choices=["embedded", "kafka"], default="embedded")
    parser.add_argument("--messages", type=int, default=50_000, help="MQTT messages (50 000)")
    parser.add_argument("--http-seconds", type=int, default=10, help="each wrk run (10)")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"messages": args.messages}
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_broker(args.broker, None) as (
            bootstrap,
            name,
        ),
    ):
        base = Path(tmp)
        if mosquitto_binary() is None:
            raise SystemExit("Mosquitto is not installed (apt install mosquitto)")
        broker = MosquittoBroker().start()
        result["broker"] = name
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("IOC_")},
            "IOC_BROKER": f"kafka://{bootstrap}",
            "IOC_DATA_DIR": str(base / "data"),
            "IOC_TOPIC_PREFIX": f"bench{time.monotonic_ns()}.",
            "IOC_MQTT_GROUP": "",
            "IOC_LOG_LEVEL": "warning",
        }
        if args.broker == "embedded":
            env["IOC_BRIDGE_IDEMPOTENT"] = "false"  # Tansu refuses idempotent producers
        try:
            print(f"MQTT: {args.messages:,} QoS 1 messages, raw subscriber ...")
            raw = raw_drain(broker, args.messages)
            print("MQTT: the same through the bridge's buffered paho client, and mosquitto_sub ...")
            buffered = raw_drain(broker, args.messages, BufferedClient)
            in_c = mosquitto_sub_drain(broker, args.messages)
            print("MQTT: the bridge ...")
            bridged = bridge_drain(broker, env, args.messages, base / "mqtt.log")
            result["mqtt"] = {
                "raw": {"seconds": round(raw, 2), "msg_per_s": round(args.messages / raw)},
                "raw_buffered": {
                    "seconds": round(buffered, 2),
                    "msg_per_s": round(args.messages / buffered),
                },
                "mosquitto_sub": None
                if in_c is None
                else {"seconds": round(in_c, 2), "msg_per_s": round(args.messages / in_c)},
                "bridge": {**bridged, "msg_per_s": round(args.messages / bridged["seconds"])},
            }
            result["mqtt"]["bridge"]["to_raw"] = round(raw / bridged["seconds"], 3)
            result["mqtt"]["bridge"]["to_raw_buffered"] = round(buffered / bridged["seconds"], 3)
            if shutil.which("wrk"):
                print(f"HTTP: wrk, {args.http_seconds} s each ...")
                result["http"] = http_run(env, args.http_seconds, base)
            else:
                print("wrk is not installed (apt install wrk): no HTTP figures")
        finally:
            broker.close()
    suffix = "" if args.broker == "embedded" else "-kafka"
    path = write_result(f"bridge{suffix}", result)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
