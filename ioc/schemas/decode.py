"""Raw sensor-topic bytes → readings and precise rejections. Never raises.

The fast path validates the whole message with one `validate_json` call through a TypeAdapter
built once: pydantic parses and validates in Rust, faster than decoding with a JSON library and
validating the result. Only a message that fails takes the slow path, which keeps the good
readings of a batch and rejects each bad one with its index.

The fast path picks its schema without calling Python per reading: a message that mentions
"readings" is tried as a batch, any other as one reading, and the kind of a reading is found
by pydantic's own discriminator on the `kind` key. The public unions (`Message`, `Reading`)
find their branch with a Python function, which names a bad kind precisely but took a third
of a batch's validation time. Both accept exactly the same documents (the same models, the
same `kind` key), and whatever the fast path refuses goes to the slow path, which validates
with the public unions: the errors a sensor owner reads are theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from pydantic import Field, TypeAdapter, ValidationError

from ioc.schemas.common import Id, Strict, utcnow
from ioc.schemas.readings import (
    BATCH_TAG,
    MAX_BATCH_READINGS,
    READING_KINDS,
    AnyReading,
    CameraReading,
    EnvironmentReading,
    GatewayBatch,
    Message,
    Reading,
    TrafficReading,
)

MAX_MESSAGE_BYTES = 1 << 20
MAX_FUTURE_SKEW = timedelta(minutes=5)
_TAGS = frozenset((*READING_KINDS, BATCH_TAG))
_MAX_INPUT_SHOWN = 80

# The fast path's schemas (see the module's docstring): the public ones, but for how the
# branch of a union is found.
_FastReading = Annotated[
    TrafficReading | CameraReading | EnvironmentReading, Field(discriminator="kind")
]


class _FastBatch(Strict):
    source_id: Id
    readings: Annotated[list[_FastReading], Field(min_length=1, max_length=MAX_BATCH_READINGS)]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason a value was refused: where (a JSON path), what kind of error, and why."""

    loc: str
    type: str
    msg: str
    input: str | None = None

    def __str__(self) -> str:
        where = self.loc or "message"
        shown = f" (got {self.input})" if self.input is not None else ""
        return f"{where}: {self.msg}{shown}"

    def as_dict(self) -> dict[str, Any]:
        return {"loc": self.loc, "type": self.type, "msg": self.msg, "input": self.input}


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused message (index None) or one refused reading of a batch (its index)."""

    errors: tuple[FieldError, ...]
    index: int | None = None
    sensor_id: str | None = None

    @property
    def reason(self) -> str:
        """One line for a log or a dead-letter record: the first errors, most precise first."""
        first = "; ".join(str(e) for e in self.errors[:3])
        more = f" (+{len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
        return f"{first}{more}"

    @property
    def category(self) -> str:
        """A short, bounded label for metrics: the error type of the first error."""
        return self.errors[0].type if self.errors else "invalid"


@dataclass(slots=True)
class Decoded:
    readings: list[AnyReading] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    batch: bool = False
    source_id: str | None = None

    @property
    def total(self) -> int:
        """Readings the message carried: accepted + rejected ones (a whole-message rejection
        counts as one)."""
        return len(self.readings) + len(self.rejections)


def _loc(parts: Sequence[int | str]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _TAGS:
            continue  # the union branch pydantic went down, not a field of the input
        else:
            out += f".{part}" if out else str(part)
    return out


def _shown(value: Any) -> str | None:
    if isinstance(value, dict | list):
        return None  # the record keeps the whole payload; repeating a structure helps nobody
    text = repr(value)
    return text if len(text) <= _MAX_INPUT_SHOWN else text[: _MAX_INPUT_SHOWN - 1] + "…"


def field_errors(exc: ValidationError, prefix: Sequence[int | str] = ()) -> tuple[FieldError, ...]:
    return tuple(
        FieldError(
            loc=_loc((*prefix, *err["loc"])),
            type=err["type"],
            msg=err["msg"],
            input=_shown(err.get("input")),
        )
        for err in exc.errors(include_url=False)
    )


class Decoder:
    """Decodes sensor messages. Build one per process: it holds the compiled validators."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = utcnow,
        max_future_skew: timedelta = MAX_FUTURE_SKEW,
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self._message = TypeAdapter[Any](Message)
        self._reading = TypeAdapter[Any](Reading)
        self._fast_batch = TypeAdapter(_FastBatch)
        self._fast_reading = TypeAdapter[Any](_FastReading)
        self._clock = clock
        self._max_future_skew = max_future_skew
        self._max_bytes = max_bytes

    def decode(self, raw: bytes) -> Decoded:
        try:
            return self._decode(raw)
        except Exception as exc:  # a decoder defect must not take the worker down with it
            error = FieldError("", "internal_error", f"decoder failed: {type(exc).__name__}: {exc}")
            return Decoded(rejections=[Rejection((error,))])

    def _decode(self, raw: bytes) -> Decoded:
        if len(raw) > self._max_bytes:
            error = FieldError(
                "", "too_large", f"message is {len(raw)} bytes, the limit is {self._max_bytes}"
            )
            return Decoded(rejections=[Rejection((error,))])
        fast = self._fast(raw)
        if fast is not None:
            return fast
        try:
            message = self._message.validate_json(raw)
        except ValidationError as exc:
            return self._salvage(raw, exc)
        if isinstance(message, GatewayBatch):
            return self._checked(message.readings, message.source_id, batch=True)
        return self._checked([message], message.source_id, batch=False)

    def _fast(self, raw: bytes) -> Decoded | None:
        """The message decoded by the fast path, or None when it is not valid there."""
        try:
            if b'"readings"' in raw:
                batch = self._fast_batch.validate_json(raw)
                return self._checked(batch.readings, batch.source_id, batch=True)
            reading = self._fast_reading.validate_json(raw)
            return self._checked([reading], reading.source_id, batch=False)
        except ValidationError:
            return None

    def _checked(
        self,
        readings: Sequence[AnyReading],
        source_id: str | None,
        *,
        batch: bool,
        indices: Sequence[int] | None = None,
        rejections: list[Rejection] | None = None,
    ) -> Decoded:
        """Checks a schema cannot make: the source of each batched reading, and the clock."""
        out = Decoded(batch=batch, source_id=source_id, rejections=rejections or [])
        latest = self._clock() + self._max_future_skew
        for n, reading in enumerate(readings):
            index = (indices[n] if indices is not None else n) if batch else None
            errors: list[FieldError] = []
            if batch and reading.source_id != source_id:
                errors.append(
                    FieldError(
                        _loc(("readings", index or 0, "source_id")),
                        "source_mismatch",
                        f"differs from the batch's source_id {source_id!r}",
                        _shown(reading.source_id),
                    )
                )
            if reading.ts > latest:
                ahead = reading.ts - self._clock()
                errors.append(
                    FieldError(
                        _loc(("readings", index or 0, "ts")) if batch else "ts",
                        "ts_in_future",
                        f"{int(ahead.total_seconds())} s ahead of the receiving clock "
                        f"(limit {int(self._max_future_skew.total_seconds())} s): clock drift?",
                        reading.ts.isoformat(),
                    )
                )
            if errors:
                out.rejections.append(Rejection(tuple(errors), index, reading.sensor_id))
            else:
                out.readings.append(reading)
        out.rejections.sort(key=lambda r: -1 if r.index is None else r.index)
        return out

    def _salvage(self, raw: bytes, exc: ValidationError) -> Decoded:
        """The slow path: say precisely what is wrong, and keep what can be kept."""
        errors = field_errors(exc)
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as bad_json:
            error = FieldError("", "json_invalid", f"not valid JSON: {bad_json}")
            return Decoded(rejections=[Rejection((error,))])
        if not isinstance(document, dict):
            error = FieldError(
                "", "not_an_object", f"a message is a JSON object, not {type(document).__name__}"
            )
            return Decoded(rejections=[Rejection((error,))])
        items = document.get("readings")
        if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH_READINGS:
            return Decoded(rejections=[Rejection(errors, None, _sensor_of(document))])
        # A batch whose envelope is sound: judge each reading on its own.
        envelope = [e for e in errors if not e.loc.startswith("readings[")]
        if envelope:
            return Decoded(batch=True, rejections=[Rejection(tuple(envelope))])

        source_id = document.get("source_id")
        good: list[AnyReading] = []
        indices: list[int] = []
        rejections: list[Rejection] = []
        for i, item in enumerate(items):
            try:
                good.append(self._reading.validate_json(orjson.dumps(item)))
                indices.append(i)
            except ValidationError as item_exc:
                rejections.append(
                    Rejection(field_errors(item_exc, ("readings", i)), i, _sensor_of(item))
                )
        return self._checked(
            good,
            source_id if isinstance(source_id, str) else None,
            batch=True,
            indices=indices,
            rejections=rejections,
        )


def _sensor_of(item: Any) -> str | None:
    sensor = item.get("sensor_id") if isinstance(item, dict) else None
    return sensor[:64] if isinstance(sensor, str) else None
