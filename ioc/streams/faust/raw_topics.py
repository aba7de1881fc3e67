"""The worker's topics carry bytes it decodes itself: Faust is told so, and makes each event
without looking anything up.

Faust decodes every message's key and value through its serializer registry (a codec found
by name, for "raw" too) and builds the event with the class the app's settings name (a
settings lookup): a few per cent of a busy worker (bench/HISTORY.md), for bytes handed
on unchanged. Here the event is built from the message's bytes, with the class found once.
Sending through these topics is unchanged (raw keys and values).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.types import Message


class RawSchema(faust.Schema[bytes, bytes]):
    def __init__(self) -> None:
        super().__init__(
            key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )

    def compile(
        self,
        app: Any,
        *,
        on_key_decode_error: Any = None,
        on_value_decode_error: Any = None,
        default_propagate: bool = False,
    ) -> Callable[..., Awaitable[Any]]:
        """Bytes cannot fail to decode as bytes: the error handlers are never called."""
        event_class = app.conf.Event

        async def decode(message: Message, *, propagate: bool = default_propagate) -> Any:
            return event_class(app, message.key, message.value, message.headers, message)

        return decode


def raw_topic(app: faust.App, *names: str, **options: Any) -> Any:
    return app.topic(*names, schema=RawSchema(), **options)
