"""Incident sinks, chosen by URL (settings `sinks`), any number at once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ioc.districts import DISTRICT_SLUGS
from ioc.sinks.base import Sink, SinkError
from ioc.sinks.capfeed import CapFeedSink
from ioc.sinks.capfeed import path_from_url as cap_path
from ioc.sinks.jsonl import JsonlSink
from ioc.sinks.jsonl import path_from_url as jsonl_path
from ioc.sinks.kafka import DistrictTopicsSink
from ioc.sinks.postgres import PostgresSink
from ioc.sinks.sqlite import SqliteSink
from ioc.sinks.sqlite import path_from_url as sqlite_path
from ioc.sinks.webhook import Park, WebhookSink
from ioc.topics import district_incidents

__all__ = ["Sink", "SinkError", "sinks_from_urls"]


def sinks_from_urls(
    urls: Sequence[str],
    *,
    data_dir: Path,
    servers: Sequence[str],
    topic_prefix: str = "",
    park: Park | None = None,
) -> list[Sink]:
    sinks: list[Sink] = []
    for url in urls:
        scheme = url.partition("://")[0]
        if scheme == "sqlite":
            sinks.append(SqliteSink(sqlite_path(url, data_dir)))
        elif scheme == "file":
            sinks.append(JsonlSink(jsonl_path(url)))
        elif scheme == "cap":
            sinks.append(CapFeedSink(cap_path(url)))
        elif scheme in ("http", "https"):
            if park is None:
                raise ValueError("a webhook sink needs the retry topic to park deliveries on")
            sinks.append(WebhookSink(url, park))
        elif scheme in ("postgresql", "postgres"):
            sinks.append(PostgresSink(url))
        elif scheme == "kafka":
            sinks.append(
                DistrictTopicsSink(
                    servers,
                    DISTRICT_SLUGS,
                    lambda slug: f"{topic_prefix}{district_incidents(slug)}",
                )
            )
        else:
            raise ValueError(f"sink {url!r}: unknown scheme {scheme}://")
    return sinks
