"""Which sink a URL names: one factory per scheme (settings `sinks`, any number at once).

A factory imports its sink when it is asked for one, so that reading the settings, or a
command that uses none of them, does not load every sink's client library (aiohttp for
webhooks, psycopg for PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ioc.cap import ZoneNames
    from ioc.kafka.cluster import Cluster
    from ioc.sinks.base import Sink
    from ioc.sinks.webhook.sink import Park


@dataclass(frozen=True, slots=True)
class SinkContext:
    """What a sink may need beyond its URL."""

    data_dir: Path
    cluster: Cluster
    topic_prefix: str = ""
    park: Park | None = None  # where webhook deliveries wait for their retry
    zone_names: ZoneNames | None = None  # for the CAP feed's area descriptions


def _sqlite(url: str, ctx: SinkContext) -> Sink:
    from ioc.sinks.sqlite import SqliteSink, path_from_url

    return SqliteSink(path_from_url(url, ctx.data_dir))


def _jsonl(url: str, ctx: SinkContext) -> Sink:
    from ioc.sinks.jsonl import JsonlSink, path_from_url

    return JsonlSink(path_from_url(url))


def _cap(url: str, ctx: SinkContext) -> Sink:
    from ioc.sinks.capfeed import CapFeedSink, path_from_url

    return CapFeedSink(path_from_url(url), ctx.zone_names)


def _webhook(url: str, ctx: SinkContext) -> Sink:
    from ioc.sinks.webhook.sink import WebhookSink

    if ctx.park is None:
        raise ValueError("a webhook sink needs the retry topic to park deliveries on")
    return WebhookSink(url, ctx.park)


def _postgres(url: str, ctx: SinkContext) -> Sink:
    from ioc.sinks.postgres import PostgresSink

    return PostgresSink(url)


def _district_topics(url: str, ctx: SinkContext) -> Sink:
    from ioc.districts import DISTRICT_SLUGS
    from ioc.kafka.topics import district_incidents
    from ioc.sinks.kafka import DistrictTopicsSink

    prefix = ctx.topic_prefix
    return DistrictTopicsSink(
        ctx.cluster, DISTRICT_SLUGS, lambda slug: f"{prefix}{district_incidents(slug)}"
    )


FACTORIES: dict[str, Callable[[str, SinkContext], Sink]] = {
    "sqlite": _sqlite,
    "kafka": _district_topics,
    "file": _jsonl,
    "cap": _cap,
    "postgresql": _postgres,
    "postgres": _postgres,
    "https": _webhook,
    "http": _webhook,
}
SCHEMES = tuple(FACTORIES)


def scheme_of(url: str) -> str:
    """The sink URL's scheme; a ValueError naming the known ones when it has none of them."""
    scheme = url.partition("://")[0]
    if scheme not in FACTORIES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise ValueError(f"sink {url!r}: scheme must be one of {known}")
    return scheme


def sinks_from_urls(urls: Sequence[str], ctx: SinkContext) -> list[Sink]:
    return [FACTORIES[scheme_of(url)](url, ctx) for url in urls]
