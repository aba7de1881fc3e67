"""The readings stage alone, without a broker, against the peer's job and plain decoding.

    python -m bench.stage              # 50 000 sensors' gateway batches, 50 000 single readings
    python -m bench.stage --quick      # a fifth of that, for a before/after of a change

The worker's throughput (bench.stream) mixes our work with Faust's, the broker's and the
machine's other load. This isolates ours: one process, the same data as bench.stream, every
job run in turn `--repeats` times (interleaved, so a slow minute of a shared machine hits all
of them), the best CPU time of each kept:
- decode: `Decoder.decode` of every message: validation alone, the floor of every job here;
- peer: the Quix Streams peer's per-message job (bench/quix_peer.py, `Job.decode` and
  `Job.alerts_of`, without Quix): decode, zones, stateless threshold rules;
- stage: `ReadingsStage.handle_batch` as the worker calls it (batches of READINGS_BATCH
  messages), with the default zones and rule pack, state kept in memory and serialised once
  per batch as the changelog does (orjson), the collector set as the worker sets it;
- stage+st: the same with the sensor statuses the worker publishes for the console
  (ioc/streams/stages/sensor_status.py, every 30 s per source), paced by the data's event time as
  the worker is by the wall clock in real time: "stage+st ÷ stage" is their cost;
- stage-dedup: the stage without its duplicate check (ioc/rules/duplicates.py, patched out
  for the run): its "÷stage" above 1 is the check's cost.
Results go to bench/results/<date>-stage.json (--quick: <date>-stage-quick.json) and are
printed as a table of µs and readings/s, with the ratios stage ÷ peer and stage ÷ decode.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from bench import pipeline
from bench.common import write_result
from ioc.geo import ZoneIndex, default_zones
from ioc.rules import engine as engine_module
from ioc.rules.loader import default_rules
from ioc.schemas import Decoder
from ioc.schemas.common import utcnow
from ioc.streams import gc_tuning
from ioc.streams.app import READINGS_BATCH
from ioc.streams.metrics import Metrics
from ioc.streams.rulebook import Rulebook
from ioc.streams.stages.readings import ReadingsStage
from ioc.streams.stages.sensor_status import SensorStatusTracker

PARTITIONS = 4


class MemoryTable(dict[str, Any]):
    """A state table in memory; `flush` serialises what a batch put, as ChangelogTable does
    before it hands the bytes to the producer."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[str, tuple[Any, int]] = {}

    def put(self, key: str, value: Any, partition: int) -> None:
        self[key] = value
        self.pending[key] = (value, partition)

    async def flush(self) -> None:
        for key, (value, _) in self.pending.items():
            orjson.dumps(key)
            orjson.dumps(value)
        self.pending = {}


STATUS_INTERVAL_S = 30.0  # the worker's default


class CountingOutputs:
    def __init__(self) -> None:
        self.alerts = 0
        self.dead_letters = 0

    async def publish(self, engine: Any, alerts: Sequence[Any]) -> None:
        self.alerts += len(alerts)

    async def dead_letter(self, rejections: Sequence[Any], **where: Any) -> None:
        self.dead_letters += 1

    async def sensor_statuses(self, messages: Sequence[Any]) -> None:
        self.statuses = getattr(self, "statuses", 0) + len(messages)


def messages(items: Iterable[pipeline.Item]) -> list[SimpleNamespace]:
    """Items as the stage receives them from Faust: topic, partition, offset, key, value."""
    offsets: Counter[tuple[str, int]] = Counter()
    out = []
    for topic, key, value in items:
        partition = zlib.crc32(key) % PARTITIONS
        offset = offsets[(topic, partition)]
        offsets[(topic, partition)] += 1
        out.append(
            SimpleNamespace(topic=topic, partition=partition, offset=offset, key=key, value=value)
        )
    return out


# A job is prepared (validators compiled, zones indexed, rules loaded: what a process does
# once), then run over every message; only the run is timed. A run returns what it counted.
Job = Callable[[Sequence[SimpleNamespace]], Callable[[], int]]


def decode_job(msgs: Sequence[SimpleNamespace]) -> Callable[[], int]:
    decoder = Decoder()

    def run() -> int:
        return sum(len(decoder.decode(m.value).readings) for m in msgs)

    return run


def peer_job(scratch: Path) -> Job | None:
    try:
        from bench.quix_peer import Job as PeerJob
    except ImportError:  # the bench extra is not installed
        return None

    def prepare(msgs: Sequence[SimpleNamespace]) -> Callable[[], int]:
        job = PeerJob(len(msgs) + 1, scratch / "peer.json", scratch)

        def run() -> int:
            for m in msgs:
                job.alerts_of(job.decode(m.value))
            return job.alerts

        return run

    return prepare


def stage_job(
    msgs: Sequence[SimpleNamespace],
    status_interval_s: float | None = None,
    *,
    dedup: bool = True,
) -> Callable[[], int]:
    metrics = Metrics.create(CollectorRegistry())

    def event_time() -> float:
        """The latest event time the stage has read: the statuses' clock here, so that the
        data publishes as it would in real time (the worker's clock is the wall clock)."""
        return max((t for t, _ in stage.topic_progress.values()), default=0.0)

    rulebook = Rulebook(default_rules(), default_zones().version, metrics, clock=utcnow)
    outputs = CountingOutputs()
    stage = ReadingsStage(
        rulebook,
        ZoneIndex(default_zones()),
        MemoryTable(),
        outputs,  # type: ignore[arg-type]  # publish and dead_letter: all the stage calls
        metrics,
        topics=sorted({m.topic for m in msgs}),
        statuses=(
            SensorStatusTracker(status_interval_s, clock=event_time)
            if status_interval_s is not None
            else None
        ),
    )

    async def feed() -> None:
        for i in range(0, len(msgs), READINGS_BATCH):
            await stage.handle_batch(msgs[i : i + READINGS_BATCH])

    def run() -> int:
        if dedup:
            asyncio.run(feed())
        else:
            checked = engine_module.repeated
            engine_module.repeated = lambda seen, reading: False
            try:
                asyncio.run(feed())
            finally:
                engine_module.repeated = checked
        return outputs.alerts

    return run


def timed(prepare: Job, msgs: Sequence[SimpleNamespace]) -> tuple[float, int]:
    """CPU seconds of one run, with the collector as the worker sets it once it has built
    what it keeps (what the run kept is released afterwards)."""
    run = prepare(msgs)
    gc_tuning.tune()
    started = time.process_time()
    out = run()
    seconds = time.process_time() - started
    del run
    gc.unfreeze()
    gc.collect()
    return seconds, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a fifth of the data")
    parser.add_argument("--sensors", type=int, help="distinct sensors in the batches (50 000)")
    parser.add_argument("--singles", type=int, help="single-reading messages (50 000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each job (3)")
    parser.add_argument(
        "--status-interval",
        type=float,
        default=STATUS_INTERVAL_S,
        metavar="SECONDS",
        help="the sensor statuses' interval in stage+st (30, the worker's default)",
    )
    args = parser.parse_args(argv)
    from bench import stream

    n_sensors = args.sensors or (10_000 if args.quick else 50_000)
    n_singles = args.singles or (10_000 if args.quick else 50_000)
    print(f"generating {n_singles:,} single readings and {n_sensors:,} sensors' batches ...")
    data = {
        "single": messages(stream.single_readings(n_singles)),
        "batch": messages(stream.gateway_batches(n_sensors)),
    }
    result: dict[str, Any] = {"repeats": args.repeats, "status_interval_s": args.status_interval}
    with tempfile.TemporaryDirectory() as tmp:
        jobs: dict[str, Job] = {
            "decode": decode_job,
            "stage": stage_job,
            "stage+st": lambda msgs: stage_job(msgs, args.status_interval),
            "stage-dedup": lambda msgs: stage_job(msgs, dedup=False),
        }
        peer = peer_job(Path(tmp))
        if peer is not None:
            jobs["peer"] = peer
        else:
            print("Quix Streams is not installed (pip install -e '.[bench]'): no peer figures")
        for name, msgs in data.items():
            readings = decode_job(msgs)()
            best: dict[str, float] = {}
            outs: dict[str, int] = {}
            for n in range(args.repeats):
                for who, prepare in jobs.items():
                    print(f"{name}: {who} ({n + 1}/{args.repeats}) ...")
                    seconds, outs[who] = timed(prepare, msgs)
                    best[who] = min(best.get(who, seconds), seconds)
            figures: dict[str, Any] = {"messages": len(msgs), "readings": readings}
            for who, seconds in best.items():
                figures[who] = {
                    "cpu_seconds": round(seconds, 3),
                    "us_per_reading": round(seconds / readings * 1e6, 2),
                    "readings_per_s": round(readings / seconds),
                }
            figures["stage"]["alerts"] = outs["stage"]
            for against in ("decode", "peer"):
                if against in best:
                    # Throughput of the stage over the other's: above 1, the stage is faster.
                    figures["stage"][f"to_{against}"] = round(best[against] / best["stage"], 3)
            # The statuses' cost: the stage's throughput with them over without (below 1).
            figures["stage+st"]["to_stage"] = round(best["stage"] / best["stage+st"], 3)
            # Without the duplicate check over with it (above 1: what the check costs).
            figures["stage-dedup"]["to_stage"] = round(best["stage"] / best["stage-dedup"], 3)
            result[name] = figures
    name = "stage-quick" if args.quick else "stage"
    if args.status_interval != STATUS_INTERVAL_S:
        name += f"-st{args.status_interval:g}s"
    path = write_result(name, result)
    print(table(result))
    print(f"written to {path}")
    return 0


def table(result: dict[str, Any]) -> str:
    rows = [
        f"{'':<8}{'job':<12}{'µs/reading':>12}{'readings/s':>12}{'÷peer':>8}{'÷decode':>9}"
        f"{'÷stage':>8}"
    ]
    for name in ("single", "batch"):
        for who in ("decode", "peer", "stage", "stage+st", "stage-dedup"):
            f = result[name].get(who)
            if f is None:
                continue
            peer = f"{f['to_peer']:.2f}" if "to_peer" in f else ""
            decode = f"{f['to_decode']:.2f}" if "to_decode" in f else ""
            stage = f"{f['to_stage']:.3f}" if "to_stage" in f else ""
            rows.append(
                f"{name:<8}{who:<12}{f['us_per_reading']:>12.2f}{f['readings_per_s']:>12,}"
                f"{peer:>8}{decode:>9}{stage:>8}"
            )
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
