"""The worker's Faust sensor exports what Faust's PrometheusMonitor exports, for the same
messages and events (ioc/streams/faust/monitor.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest

from ioc.streams.faust.monitor import FaustMonitor


class _Task:
    pass


class _Stream:
    def __init__(self, label: str) -> None:
        self.shortlabel = label
        self.task_owner = _Task()


def _samples(monitor_class: type[PrometheusMonitor], rebalance_at: int | None = None) -> set[str]:
    registry = CollectorRegistry()
    monitor: Any
    if monitor_class is FaustMonitor:
        monitor = FaustMonitor.create(registry, "ioc_faust")
    else:
        monitor = monitor_class(metrics=FaustMetrics.create(registry, "ioc_faust"))
    streams = [_Stream(f"Stream: Topic: sensors.{name}") for name in ("traffic", "camera")]
    for n in range(30):
        if n == rebalance_at:
            # What a rebalance does to the per-topic and per-partition series.
            monitor._clear_partition_related_metrics()
        tp = TP(f"sensors.{('traffic', 'camera')[n % 2]}", n % 3)
        message = SimpleNamespace(time_in=None)
        monitor.on_message_in(tp, n, message)
        monitor.track_tp_end_offset(tp, n + 100)
        state = monitor.on_stream_event_in(tp, n, streams[n % 2], SimpleNamespace())
        if n % 3:  # some still being processed when the registry is read
            monitor.on_stream_event_out(tp, n, streams[n % 2], SimpleNamespace(), state)
            monitor.on_message_out(tp, n, message)
    lines = generate_latest(registry).decode().splitlines()
    # Creation timestamps and timings differ between the two registries; nothing else may.
    return {
        line for line in lines if not any(t in line for t in ("_created", "latency", "_ms_sum"))
    }


def test_the_same_metrics_with_the_same_values_as_fausts_own_sensor() -> None:
    ours, fausts = _samples(FaustMonitor), _samples(PrometheusMonitor)
    assert ours == fausts
    assert 'ioc_faust_messages_received_per_topic_total{topic="sensors.camera"} 15.0' in ours


def test_after_a_rebalance_the_per_topic_series_are_exported_again() -> None:
    ours, fausts = _samples(FaustMonitor, rebalance_at=10), _samples(PrometheusMonitor, 10)
    assert ours == fausts
    assert 'ioc_faust_messages_received_per_topic_total{topic="sensors.camera"} 10.0' in ours
