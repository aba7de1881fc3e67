"""The worker's raw topics make Faust's events from the message's bytes, as Faust's own raw
serializers do, without a codec lookup (ioc/streams/faust/raw_topics.py)."""

from __future__ import annotations

import asyncio

import faust
import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from ioc.streams.faust.raw_topics import RawSchema, raw_topic


def _message(key: bytes | None, value: bytes | None) -> ConsumerMessage:
    return ConsumerMessage(
        "sensors.traffic", 2, 41, 0.0, 0, [("h", b"v")], key, value, None, None, None,
        TP("sensors.traffic", 2),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value"), [(b"gw-1", b'{"kind": "traffic"}'), (None, b"\xff\x00"), (b"k", None)]
)
def test_events_are_fausts_with_the_messages_bytes(key: bytes | None, value: bytes | None) -> None:
    app = faust.App("raw-topics-test", broker="kafka://localhost:1")
    fausts = faust.Schema(
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    ).compile(app)
    ours = RawSchema().compile(app)
    message = _message(key, value)

    async def both() -> tuple[faust.Event, faust.Event]:
        return await fausts(message), await ours(message)

    theirs, event = asyncio.run(both())
    assert type(event) is type(theirs)
    assert (event.key, event.value, event.headers) == (theirs.key, theirs.value, theirs.headers)
    assert event.message is message


def test_a_raw_topic_sends_bytes_unchanged() -> None:
    app = faust.App("raw-topics-test", broker="kafka://localhost:1")
    topic = raw_topic(app, "sensors.traffic")
    assert isinstance(topic.schema, RawSchema)
    assert topic.prepare_key(b"gw-1", None)[0] == b"gw-1"
    assert topic.prepare_value(b"\xff{", None)[0] == b"\xff{"
