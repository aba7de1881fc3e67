"""Readings, batches and the decoder: valid input round-trips, invalid input is explained."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.schemas import (
    CameraReading,
    DeadLetter,
    Decoder,
    EnvironmentReading,
    GatewayBatch,
    TrafficReading,
)
from ioc.schemas.export import SCHEMAS, json_schema
from ioc.schemas.readings import ENVIRONMENT_FIELDS, MAX_BATCH_READINGS

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
decoder = Decoder(clock=lambda: NOW)


def env(**over: Any) -> dict[str, Any]:
    base = {
        "kind": "environment",
        "sensor_id": "env-dl-001",
        "source_id": "station-dl-01",
        "ts": "2026-11-23T13:55:00+07:00",
        "lat": 11.9404,
        "lon": 108.4583,
        "pm25": 41.5,
        "water_level_cm": 87.0,
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not ...}


def traffic(**over: Any) -> dict[str, Any]:
    base = {
        "kind": "traffic",
        "sensor_id": "tc-ql20-km210",
        "source_id": "gw-bao-loc-pass",
        "ts": "2026-11-23T06:59:00Z",
        "lat": 11.52,
        "lon": 107.87,
        "road": "QL20",
        "lane": 1,
        "vehicle_count": 42,
        "avg_speed_kmh": 38.5,
        "occupancy_pct": 22.0,
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not ...}


def camera(**over: Any) -> dict[str, Any]:
    base = {
        "kind": "camera",
        "sensor_id": "cam-lk-07",
        "source_id": "vms-duc-trong",
        "ts": "2026-11-23T06:58:00Z",
        "lat": 11.75,
        "lon": 108.367,
        "analytic": "intrusion",
        "confidence": 0.93,
        "track_id": "trk-1842",
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not ...}


def raw(doc: Any) -> bytes:
    return orjson.dumps(doc)


@pytest.mark.parametrize(
    ("doc", "model"),
    [(env(), EnvironmentReading), (traffic(), TrafficReading), (camera(), CameraReading)],
)
def test_each_kind_decodes_to_its_model(doc: dict[str, Any], model: type) -> None:
    out = decoder.decode(raw(doc))
    assert out.rejections == []
    [reading] = out.readings
    assert isinstance(reading, model)
    assert reading.ts.tzinfo is UTC
    assert not out.batch


def test_timestamps_are_stored_in_utc() -> None:
    [reading] = decoder.decode(raw(env(ts="2026-11-23T13:55:00+07:00"))).readings
    assert reading.ts == datetime(2026, 11, 23, 6, 55, tzinfo=UTC)


# Each invalid case: the message, and the JSON path and error type the rejection must name.
INVALID = [
    (env(lat=91), "lat", "less_than_equal"),
    (env(lon=-181), "lon", "greater_than_equal"),
    (env(ts="2026-11-23T13:55:00"), "ts", "timezone_aware"),
    (env(ts="yesterday"), "ts", "datetime_parsing"),
    (env(pm25="41"), "pm25", "float_type"),
    (env(pm25=-1), "pm25", "greater_than_equal"),
    (env(sensor_id=...), "sensor_id", "missing"),
    (env(sensor_id="x" * 65), "sensor_id", "string_too_long"),
    (env(sensor_id="bad id!"), "sensor_id", "string_pattern_mismatch"),
    (env(colour="red"), "colour", "extra_forbidden"),
    (env(kind="weather"), "", "unknown_kind"),
    (env(kind=...), "", "unknown_kind"),
    (env(pm25=None, water_level_cm=None), "", "value_error"),
    (traffic(vehicle_count=12.5), "vehicle_count", "int_type"),
    (traffic(vehicle_count="12"), "vehicle_count", "int_type"),
    (traffic(event="alien"), "event", "literal_error"),
    (traffic(plate="49a-123"), "plate", "string_pattern_mismatch"),
    (traffic(road=""), "road", "string_too_short"),
    (camera(confidence=1.5), "confidence", "less_than_equal"),
    (camera(analytic="dancing"), "analytic", "literal_error"),
    (camera(snapshot_url="ftp://x"), "snapshot_url", "string_pattern_mismatch"),
    (env(ts="2026-11-23T09:00:00Z"), "ts", "ts_in_future"),
]


@pytest.mark.parametrize(("doc", "loc", "error_type"), INVALID)
def test_invalid_readings_name_the_field(doc: dict[str, Any], loc: str, error_type: str) -> None:
    out = decoder.decode(raw(doc))
    assert out.readings == []
    [rejection] = out.rejections
    assert (loc, error_type) in {(e.loc, e.type) for e in rejection.errors}, rejection.reason
    assert rejection.reason.startswith(loc or "message")


@pytest.mark.parametrize(
    ("payload", "error_type"),
    [
        (b'{"kind": "environment", "sensor_id": ', "json_invalid"),
        (b"", "json_invalid"),
        (b"\xff\xfe", "json_invalid"),
        (b'{"kind":"environment","pm25": NaN}', "json_invalid"),
        (b"[1, 2]", "not_an_object"),
        (b"42", "not_an_object"),
        (b'"reading"', "not_an_object"),
    ],
)
def test_broken_json_is_rejected_whole(payload: bytes, error_type: str) -> None:
    out = decoder.decode(payload)
    assert out.readings == []
    assert [r.category for r in out.rejections] == [error_type]


def test_an_infinite_number_is_refused() -> None:
    # JSON has no infinity, but 1e999 parses to one in most decoders.
    out = decoder.decode(
        b'{"kind":"environment","sensor_id":"s","source_id":"x",'
        b'"ts":"2026-11-23T06:00:00Z","lat":11.9,"lon":108.4,"pm25":1e999}'
    )
    assert out.readings == []
    assert out.rejections


def test_oversized_messages_are_refused_before_parsing() -> None:
    small = Decoder(clock=lambda: NOW, max_bytes=100)
    out = small.decode(raw(env()))
    assert [r.category for r in out.rejections] == ["too_large"]


def test_a_batch_keeps_its_good_readings_and_rejects_each_bad_one_with_its_index() -> None:
    readings = [
        env(source_id="gw-1", sensor_id="s0"),
        env(source_id="gw-1", sensor_id="s1", lat=123),
        traffic(source_id="gw-1", sensor_id="s2"),
        camera(source_id="gw-1", sensor_id="s3", kind="drone"),
        camera(source_id="gw-9", sensor_id="s4"),
        env(source_id="gw-1", sensor_id="s5", ts="2027-01-01T00:00:00Z"),
    ]
    out = decoder.decode(raw({"source_id": "gw-1", "readings": readings}))
    assert out.batch
    assert out.source_id == "gw-1"
    assert [r.sensor_id for r in out.readings] == ["s0", "s2"]
    assert [(r.index, r.sensor_id, r.category) for r in out.rejections] == [
        (1, "s1", "less_than_equal"),
        (3, "s3", "unknown_kind"),
        (4, "s4", "source_mismatch"),
        (5, "s5", "ts_in_future"),
    ]
    assert out.rejections[0].errors[0].loc == "readings[1].lat"
    assert out.total == len(readings)


def test_a_valid_batch_takes_the_fast_path() -> None:
    readings = [env(source_id="gw-1", sensor_id=f"s{i}") for i in range(100)]
    message = raw({"source_id": "gw-1", "readings": readings})
    out = decoder.decode(message)
    assert len(out.readings) == 100
    assert out.rejections == []
    assert decoder._fast(message) == out
    for doc in (env(), traffic(), camera()):
        assert decoder._fast(raw(doc)) == decoder.decode(raw(doc))


class PublicUnionsOnly(Decoder):
    """The decoder without its fast path: every message is judged by the public unions."""

    def _fast(self, raw: bytes) -> None:
        return None


reference = PublicUnionsOnly(clock=lambda: NOW)


def test_the_fast_path_decides_as_the_public_unions_on_simulated_traffic() -> None:
    from simulators.generate import Simulation
    from simulators.scenario import Batching, load_scenario

    base = load_scenario("demo").model_copy(update={"malformed": 0.3})
    for batch in (Batching(size=1), Batching(size=20)):
        scenario = base.model_copy(update={"batch": batch})
        for n, record in enumerate(Simulation(scenario).records()):
            if n == 3000:
                break
            assert decoder.decode(record.value) == reference.decode(record.value), record.value


@pytest.mark.parametrize(
    ("doc", "loc"),
    [
        ({"source_id": "gw 1", "readings": [env()]}, "source_id"),
        ({"source_id": "gw-1", "readings": []}, "readings"),
        ({"source_id": "gw-1", "readings": [env()], "extra": 1}, "extra"),
        ({"readings": [env()]}, "source_id"),
    ],
)
def test_a_bad_envelope_rejects_the_whole_batch(doc: dict[str, Any], loc: str) -> None:
    out = decoder.decode(raw(doc))
    assert out.readings == []
    [rejection] = out.rejections
    assert rejection.index is None
    assert loc in {e.loc for e in rejection.errors}


def test_a_batch_over_the_size_limit_is_refused_whole() -> None:
    readings = [env(source_id="gw-1")] * (MAX_BATCH_READINGS + 1)
    out = decoder.decode(raw({"source_id": "gw-1", "readings": readings}))
    assert out.readings == []
    assert [r.category for r in out.rejections] == ["too_long"]


def test_dead_letter_record_keeps_the_original_bytes_and_the_reason() -> None:
    payload = raw(env(lat=95))
    [rejection] = decoder.decode(payload).rejections
    record = DeadLetter.from_rejection(
        rejection,
        raw=payload,
        topic="sensors.environment",
        partition=2,
        offset=1234,
        key=b"station-dl-01",
        received_at=NOW,
    )
    back = DeadLetter.model_validate_json(record.model_dump_json())
    assert back.original() == payload
    assert back.reason.startswith("lat: Input should be less than or equal to 90")
    assert (back.partition, back.offset, back.category) == (2, 1234, "less_than_equal")


@pytest.mark.parametrize("kind", list(SCHEMAS))
def test_every_model_exports_a_json_schema(kind: str) -> None:
    schema = json_schema(kind)
    assert schema["$id"] == f"urn:ioc:schema:{kind}"
    json.dumps(schema)  # serialisable


# --- properties -------------------------------------------------------------------------------

ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,20}", fullmatch=True)
finite = st.floats(allow_nan=False, allow_infinity=False)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2026, 11, 23, 6, 0), timezones=st.just(UTC)
).map(lambda t: t.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Ho_Chi_Minh")))


@st.composite
def environment_readings(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": "environment",
        "sensor_id": draw(ids),
        "source_id": draw(ids),
        "ts": draw(times).isoformat(),
        "lat": draw(st.floats(-90, 90)),
        "lon": draw(st.floats(-180, 180)),
    }
    present = draw(st.lists(st.sampled_from(ENVIRONMENT_FIELDS), min_size=1, unique=True))
    for name in present:
        doc[name] = draw(st.floats(0, 80))  # inside every field's physical range
    return doc


@st.composite
def traffic_readings(draw: st.DrawFn) -> dict[str, Any]:
    doc = traffic(
        sensor_id=draw(ids),
        source_id=draw(ids),
        ts=draw(times).isoformat(),
        vehicle_count=draw(st.integers(0, 5000)),
        avg_speed_kmh=draw(st.floats(0, 300)),
        event=draw(st.sampled_from([None, "accident", "wrong_way"])),
        plate=draw(st.sampled_from([None, "49A-123.45", "51F12345"])),
    )
    return {k: v for k, v in doc.items() if v is not None}


@st.composite
def camera_readings(draw: st.DrawFn) -> dict[str, Any]:
    return camera(
        sensor_id=draw(ids),
        source_id=draw(ids),
        ts=draw(times).isoformat(),
        confidence=draw(st.floats(0, 1)),
        analytic=draw(st.sampled_from(["intrusion", "crowd", "fire_smoke", "plate_match"])),
        count=draw(st.integers(0, 500)),
    )


any_reading = st.one_of(environment_readings(), traffic_readings(), camera_readings())


@given(any_reading)
@settings(max_examples=300)
def test_valid_readings_round_trip_through_json(doc: dict[str, Any]) -> None:
    out = decoder.decode(raw(doc))
    assert out.rejections == [], out.rejections[0].reason
    [reading] = out.readings
    again = decoder.decode(reading.model_dump_json(exclude_none=True).encode())
    assert again.readings == [reading]


@given(st.lists(any_reading, min_size=1, max_size=20), st.data())
@settings(max_examples=100)
def test_batches_round_trip_with_their_source(
    docs: list[dict[str, Any]], data: st.DataObject
) -> None:
    source = data.draw(ids)
    batch = {"source_id": source, "readings": [{**d, "source_id": source} for d in docs]}
    out = decoder.decode(raw(batch))
    assert out.rejections == []
    model = GatewayBatch(source_id=source, readings=out.readings)
    assert (
        decoder.decode(model.model_dump_json(exclude_none=True).encode()).readings == out.readings
    )


@given(st.binary(max_size=400))
@settings(max_examples=300)
def test_nothing_raises_past_the_decoder_on_arbitrary_bytes(payload: bytes) -> None:
    out = decoder.decode(payload)
    assert out.readings or out.rejections
    for rejection in out.rejections:
        assert rejection.errors
        assert rejection.reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | finite | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    any_reading,
    st.sampled_from(["lat", "ts", "kind", "sensor_id", "pm25", "confidence", "road"]),
    json_values,
)
@settings(max_examples=300)
def test_every_corruption_is_accepted_or_explained_by_field(
    doc: dict[str, Any], key: str, value: Any
) -> None:
    corrupted = {**doc, key: value}
    out = decoder.decode(raw(corrupted))
    if out.rejections:
        [rejection] = out.rejections
        # Either the corrupted field is named, or the message as a whole (kind, model rules).
        assert {e.loc for e in rejection.errors} & {key, ""}, rejection.reason
    else:
        [reading] = out.readings
        assert getattr(reading, key) == value or key == "ts" or isinstance(value, float | int)


@given(
    st.lists(
        st.tuples(
            any_reading,
            st.sampled_from(["lat", "ts", "kind", "sensor_id", "source_id", "pm25", "event"]),
            json_values,
            st.booleans(),
        ),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
@settings(max_examples=300)
def test_the_fast_path_decides_as_the_public_unions(
    docs: list[tuple[dict[str, Any], str, Any, bool]], batched: bool
) -> None:
    readings = [{**doc, key: value} if corrupt else doc for doc, key, value, corrupt in docs]
    message = raw({"source_id": "gw-1", "readings": readings} if batched else readings[0])
    assert decoder.decode(message) == reference.decode(message)


@given(any_reading, st.integers(0, 5))
@settings(max_examples=100)
def test_a_reading_with_a_missing_field_is_rejected_naming_it(doc: dict[str, Any], k: int) -> None:
    required = ["sensor_id", "source_id", "ts", "lat", "lon"]
    key = required[k % len(required)]
    out = decoder.decode(raw({n: v for n, v in doc.items() if n != key}))
    [rejection] = out.rejections
    assert (key, "missing") in {(e.loc, e.type) for e in rejection.errors}


def test_no_float_field_accepts_nan_even_from_python() -> None:
    with pytest.raises(ValueError, match="finite"):
        EnvironmentReading.model_validate({**env(), "pm25": math.nan, "ts": NOW})


def test_future_limit_uses_the_injected_clock() -> None:
    later = Decoder(clock=lambda: NOW + timedelta(hours=3))
    assert later.decode(raw(env(ts="2026-11-23T09:00:00Z"))).readings
