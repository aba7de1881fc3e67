"""The dead-letter record: what was refused, why, and where it came from (docs/architecture.md)."""

from __future__ import annotations

import base64
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ioc.schemas.common import UtcDatetime
from ioc.schemas.decode import FieldError, Rejection


class DeadLetterError(BaseModel):
    model_config = ConfigDict(frozen=True)

    loc: str = Field(description="JSON path of the refused value; empty for the whole message.")
    type: str
    msg: str
    input: str | None = None


class DeadLetter(BaseModel):
    """A refused message or reading. The original bytes are kept whole, so nothing is lost."""

    model_config = ConfigDict(frozen=True)

    reason: str = Field(description="One line: the first errors, most precise first.")
    category: str = Field(description="Error type of the first error, for counting.")
    errors: list[DeadLetterError]
    index: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="Index of the refused reading in a gateway batch."
    )
    sensor_id: str | None = None
    source_topic: str
    origin: str | None = Field(
        default=None,
        description="Where it came from before Kafka, as the bridge saw it: mqtt://broker/topic "
        "or http://client/path.",
    )
    partition: int | None = None
    offset: int | None = None
    key: str | None = Field(default=None, description="The Kafka key, base64.")
    payload: str = Field(description="The original message bytes, base64.")
    payload_size: int
    received_at: UtcDatetime

    @classmethod
    def from_rejection(
        cls,
        rejection: Rejection,
        *,
        raw: bytes,
        topic: str,
        partition: int | None,
        offset: int | None,
        key: bytes | None,
        received_at: UtcDatetime,
        origin: str | None = None,
    ) -> DeadLetter:
        return cls(
            reason=rejection.reason,
            category=rejection.category,
            errors=[DeadLetterError(**_plain(e)) for e in rejection.errors],
            index=rejection.index,
            sensor_id=rejection.sensor_id,
            source_topic=topic,
            origin=origin,
            partition=partition,
            offset=offset,
            key=base64.b64encode(key).decode() if key is not None else None,
            payload=base64.b64encode(raw).decode(),
            payload_size=len(raw),
            received_at=received_at,
        )

    def original(self) -> bytes:
        return base64.b64decode(self.payload)


def _plain(error: FieldError) -> dict[str, str | None]:
    return {"loc": error.loc, "type": error.type, "msg": error.msg, "input": error.input}
