"""The peer: our worker's job, written idiomatically in Quix Streams, on the same preloaded data.

    python -m bench.quix_peer --broker HOST:PORT --topics T1,T2,T3 --count N --out FILE

For every message of the topics, read from the beginning by a fresh consumer group: decode and
validate it with our pydantic schemas (one reading, or a gateway batch of up to 100), place its
readings on the map with one vectorised ZoneIndex lookup, and evaluate the THRESHOLD rules of
the default rule pack on each reading; every reading that meets a rule's condition becomes an
alert dict, produced to `<first topic>.quix-alerts`. Writes {"messages", "readings", "alerts",
"seconds"} to --out FILE, timed from the first message to the end of the Nth, then exits at once.

The peer does less than our worker, so it is an upper bound for the same job in Quix: it is
stateless threshold only. No holding periods (`for`), cooldowns or clear conditions (every
reading that meets a condition alerts), no window, rate-of-change, geofence, absence or
correlation rules, no per-source engine state or changelog, no dead letters (rejected readings
are only dropped), no stale-reading downgrade, and alerts are small dicts, not `Alert` models.

Quix as a user would set it up, throughput untuned. One StreamingDataFrame per topic with the
same pipeline: `app.dataframe` takes one topic, and `.concat` would merge them but switch the
consumer to buffered, timestamp-aligned reading across topics, which a stateless job does not
need (it measured about a quarter slower). Consumer and producer at Quix's defaults: commit
every 5 s, at-least-once, idempotent producer, one message per poll, Quix's
`fetch.queue.backoff.ms` of 100. Only startup is changed: a 6 s session timeout, as
bench.faust_count has, because Tansu answers a new member's JoinGroup after half of it.
`value_deserializer="bytes"`: decoding is part of the measured job, so it is the first step.
Alerts still in the producer's buffer at the exit are not waited for.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from quixstreams import Application

from ioc.geo import ZoneIndex, default_zones
from ioc.rules.context import matches
from ioc.rules.health import plausible
from ioc.rules.kinds.threshold import ThresholdRule
from ioc.rules.loader import default_rules
from ioc.rules.values import Placed, value_of
from ioc.schemas.decode import Decoded, Decoder


class Job:
    """The per-message work and its tally. Built once: the decoder holds compiled validators
    and the index its STRtree, both too costly to build per message."""

    def __init__(self, count: int, out: Path, state_dir: Path) -> None:
        self.decoder = Decoder()
        self.index = ZoneIndex(default_zones())
        self.rules = [r for r in default_rules().enabled if isinstance(r, ThresholdRule)]
        self.count = count
        self.out = out
        self.state_dir = state_dir
        self.messages = 0
        self.readings = 0
        self.alerts = 0
        self.started = 0.0

    def decode(self, raw: bytes) -> Decoded:
        """The first step: counts the message, and starts the clock on the first one."""
        if self.messages == 0:
            self.started = time.perf_counter()
        self.messages += 1
        decoded = self.decoder.decode(raw)
        self.readings += len(decoded.readings)
        return decoded

    def alerts_of(self, decoded: Decoded) -> list[dict[str, Any]]:
        """Every (reading, rule) pair whose condition holds, as the rows to produce."""
        readings = decoded.readings
        # One lookup for the whole message: the index is vectorised, per point it is slow.
        placement = self.index.locate([r.lat for r in readings], [r.lon for r in readings])
        alerts: list[dict[str, Any]] = []
        for i, reading in enumerate(readings):
            placed = Placed(reading, placement.district[i], tuple(placement.zones_of(i)))
            for rule in self.rules:
                # The engine's order: the rule's filters, then a usable value (present and
                # plausible, as `ioc.rules.context.usable` without its counter), then the test.
                if not matches(rule.when, placed):
                    continue
                value = value_of(reading, rule.field)
                if value is None or not plausible(rule.field, value):
                    continue
                if rule.condition.holds(value):
                    alerts.append(
                        {
                            "rule_id": rule.id,
                            "sensor_id": reading.sensor_id,
                            "value": value,
                            "ts": reading.ts.isoformat(),
                        }
                    )
        self.alerts += len(alerts)
        return alerts

    def processed(self, topic: str, partition: int, offset: int) -> None:
        """Quix's on_message_processed: the whole pipeline, to_topic included, is done."""
        if self.messages < self.count:
            return
        elapsed = time.perf_counter() - self.started
        result = {
            "messages": self.messages,
            "readings": self.readings,
            "alerts": self.alerts,
            "seconds": elapsed,
        }
        self.out.write_bytes(orjson.dumps(result))
        shutil.rmtree(self.state_dir, ignore_errors=True)
        # At once, as bench.faust_count does: shutting Quix down is not what is measured.
        os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--broker", required=True, help="HOST:PORT")
    parser.add_argument("--topics", required=True, help="comma-separated sensor topics")
    parser.add_argument("--count", type=int, required=True, help="messages to process")
    parser.add_argument("--out", required=True, help="file to write the JSON result to")
    parser.add_argument("--consumer-group", default=f"bench-quix-{time.time_ns()}")
    args = parser.parse_args()
    topics = [t for t in args.topics.split(",") if t]
    # Quix makes a directory per consumer group even without state; not in the working tree.
    state_dir = Path(tempfile.mkdtemp(prefix="bench-quix-state-"))
    job = Job(args.count, Path(args.out), state_dir)

    app = Application(
        broker_address=args.broker,
        consumer_group=args.consumer_group,
        auto_offset_reset="earliest",
        loglevel="WARNING",
        state_dir=state_dir,
        # Startup only: Tansu answers a new member's JoinGroup after half the session timeout,
        # 23 s at librdkafka's default of 45 s, 3 s here.
        consumer_extra_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 500},
        on_message_processed=job.processed,
    )
    alerts = app.topic(f"{topics[0]}.quix-alerts")  # JSON values, keyed as the input
    for name in topics:
        sdf = app.dataframe(app.topic(name, value_deserializer="bytes"))
        sdf = sdf.apply(job.decode)
        sdf = sdf.filter(lambda decoded: bool(decoded.readings))  # nothing valid to place
        sdf = sdf.apply(job.alerts_of, expand=True)  # one row per alert, none for most
        sdf.to_topic(alerts)
    app.run()


if __name__ == "__main__":
    main()
