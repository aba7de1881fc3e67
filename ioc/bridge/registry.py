"""The device registry: who may send, and how a device that sends only its values becomes a
full reading.

Two kinds of entry, read from a YAML or CSV file by `ioc devices load` and kept on the
compacted `ioc.devices` topic (key `device:<id>` or `source:<id>`):

- a **device** sends only values (`{"t": 21.5, "pm2_5": 35}`): the registry gives its sensor
  id, kind, source, fixed location, fixed fields (a counter's road) and attribute names with
  their units (`t` → `temperature_c`, `pm2_5` → `pm25`);
- a **source** (a camera server, a vendor platform) sends full readings or gateway batches
  over HTTP under an API key.

API keys are FIWARE's: one key per device group or platform. The topic keeps only their
SHA-256, as the console keeps its tokens.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from ioc.schemas.common import Id, Latitude, Longitude
from ioc.schemas.readings import CameraReading, EnvironmentReading, TrafficReading

Kind = Literal["traffic", "camera", "environment"]
_MODELS: dict[str, type[BaseModel]] = {
    "traffic": TrafficReading,
    "camera": CameraReading,
    "environment": EnvironmentReading,
}
_IDENTITY = frozenset({"kind", "sensor_id", "source_id", "lat", "lon", "ts"})

# A device's unit → ours, per field: (scale, offset), ours = value × scale + offset.
_PER_MILLIGRAM = {"ug/m3": (1.0, 0.0), "µg/m3": (1.0, 0.0), "mg/m3": (1000.0, 0.0)}
UNITS: dict[str, dict[str, tuple[float, float]]] = {
    "temperature_c": {"degC": (1.0, 0.0), "degF": (5 / 9, -32 * 5 / 9), "K": (1.0, -273.15)},
    "water_level_cm": {"cm": (1.0, 0.0), "mm": (0.1, 0.0), "m": (100.0, 0.0)},
    "rain_mm_h": {"mm/h": (1.0, 0.0), "in/h": (25.4, 0.0)},
    "humidity_pct": {"%": (1.0, 0.0), "ratio": (100.0, 0.0)},
    "occupancy_pct": {"%": (1.0, 0.0), "ratio": (100.0, 0.0)},
    "avg_speed_kmh": {"km/h": (1.0, 0.0), "m/s": (3.6, 0.0), "mph": (1.609344, 0.0)},
    **{name: _PER_MILLIGRAM for name in ("pm25", "pm10", "o3", "no2", "so2", "co")},
}


def key_digest(apikey: str) -> str:
    return hashlib.sha256(apikey.encode()).hexdigest()


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Attribute(_Entry):
    name: str = Field(description="The reading's field it fills.")
    unit: str | None = Field(default=None, description="The device's unit, converted to ours.")


class Device(_Entry):
    """A device that sends only its values."""

    device_id: Id = Field(description="The device's own id (FIWARE's `i`, an MQTT topic level).")
    apikey_sha256: str | None = Field(default=None, description="SHA-256 of its group's API key.")
    sensor_id: Id
    kind: Kind
    source_id: Id
    lat: Latitude
    lon: Longitude
    attributes: dict[str, Attribute] = Field(
        default_factory=dict, description="The device's attribute names → the reading's fields."
    )
    static: dict[str, Any] = Field(
        default_factory=dict, description="Fields every reading of the device has (a road)."
    )

    @model_validator(mode="after")
    def _known_fields(self) -> Device:
        fields = _MODELS[self.kind].model_fields
        for alias, attribute in self.attributes.items():
            if attribute.name not in fields or attribute.name in _IDENTITY:
                raise ValueError(
                    f"attribute {alias}: {self.kind} readings have no field {attribute.name!r}"
                )
            if attribute.unit is not None:
                units = UNITS.get(attribute.name, {})
                if attribute.unit not in units:
                    known = ", ".join(units) or "none"
                    raise ValueError(
                        f"attribute {alias}: unit {attribute.unit!r} is not one ioc converts "
                        f"to {attribute.name} (known: {known})"
                    )
        for name in self.static:
            if name not in fields or name in _IDENTITY:
                raise ValueError(f"static: {self.kind} readings have no field {name!r}")
        return self

    def reading(self, values: dict[str, Any], received_at: str) -> dict[str, Any]:
        """The full reading of one message of values; `received_at` is its time when it
        says none (`ts`, or FIWARE's `TimeInstant`). Nothing is validated here: the worker
        does, and dead-letters what is wrong with the reason."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "sensor_id": self.sensor_id,
            "source_id": self.source_id,
            "ts": received_at,
            "lat": self.lat,
            "lon": self.lon,
            **self.static,
        }
        for name, value in values.items():
            if name in ("ts", "TimeInstant"):
                out["ts"] = value
                continue
            attribute = self.attributes.get(name)
            if attribute is None:
                out[name] = value  # already our name, or refused by the worker
                continue
            if attribute.unit is not None and _is_number(value):
                scale, offset = UNITS[attribute.name][attribute.unit]
                value = round(value * scale + offset, 6)
            out[attribute.name] = value
        return out


class Source(_Entry):
    """A platform that sends full readings under an API key."""

    source_id: Id
    apikey_sha256: str


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


Entry = Annotated[Device | Source, Field(union_mode="left_to_right")]
_ENTRY: TypeAdapter[Device | Source] = TypeAdapter(Entry)


def entry_key(entry: Device | Source) -> str:
    return f"device:{entry.device_id}" if isinstance(entry, Device) else f"source:{entry.source_id}"


def encode(entry: Device | Source) -> bytes:
    return orjson.dumps(entry.model_dump(mode="json"))


def decode(raw: bytes) -> Device | Source:
    return _ENTRY.validate_json(raw)


class RegistryError(ValueError):
    """A registry file that cannot be loaded: every problem, one per line."""


class Registry:
    """Devices by id and API keys by digest; updated entry by entry as the `ioc.devices`
    topic is read (on one thread) while the bridges look up (on others): each change builds
    a new key index and swaps it in whole."""

    def __init__(self, entries: Iterable[Device | Source] = ()) -> None:
        self.devices: dict[str, Device] = {}
        self.sources: dict[str, Source] = {}
        self._keys: dict[str, frozenset[str]] = {}  # key digest → the sources it may send for
        self.update((entry_key(entry), entry) for entry in entries)

    def update(self, changes: Iterable[tuple[str, Device | Source | None]]) -> None:
        """Entries put, or removed (None), by their key; the key index is built once for
        them all (a bridge reads the whole topic at start)."""
        for key, entry in changes:
            if isinstance(entry, Device):
                self.devices[entry.device_id] = entry
            elif isinstance(entry, Source):
                self.sources[entry.source_id] = entry
            else:
                kind, _, name = key.partition(":")
                (self.devices if kind == "device" else self.sources).pop(name, None)
        self._index()

    def put(self, entry: Device | Source) -> None:
        self.update([(entry_key(entry), entry)])

    def remove(self, key: str) -> None:
        self.update([(key, None)])

    def _index(self) -> None:
        keys: dict[str, set[str]] = {}
        for entry in self.entries():
            if entry.apikey_sha256 is not None:
                keys.setdefault(entry.apikey_sha256, set()).add(entry.source_id)
        self._keys = {digest: frozenset(sources) for digest, sources in keys.items()}

    def entries(self) -> list[Device | Source]:
        return [*list(self.sources.values()), *list(self.devices.values())]

    def may_send(self, apikey: str, source_id: str) -> bool:
        """Whether the key is the source's, or that of a device group of the source."""
        return source_id in self._keys.get(key_digest(apikey), frozenset())

    def knows_key(self, apikey: str) -> bool:
        return key_digest(apikey) in self._keys


# --- Files -----------------------------------------------------------------------------------

_CSV_COLUMNS = ("device_id", "apikey", "sensor_id", "kind", "source_id", "lat", "lon")


def load_file(path: Path) -> list[Device | Source]:
    """A registry file: YAML (`sources:` and `devices:` lists) or CSV (one device a row)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"{path}: {exc.strerror}") from exc
    raw = _rows_of_csv(text) if path.suffix.lower() == ".csv" else _rows_of_yaml(text, path)
    return _entries(raw, str(path))


def _rows_of_yaml(text: str, path: Path) -> list[dict[str, Any]]:
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not YAML: {exc}") from exc
    if not isinstance(document, dict) or set(document) - {"sources", "devices"}:
        raise RegistryError(f"{path}: expected a mapping with `sources:` and `devices:` lists")
    rows: list[dict[str, Any]] = []
    for section in ("sources", "devices"):
        items = document.get(section) or []
        if not isinstance(items, list):
            raise RegistryError(f"{path}: `{section}` must be a list")
        rows += [
            {"_section": section, **item} if isinstance(item, dict) else item for item in items
        ]
    return rows


def _rows_of_csv(text: str) -> list[dict[str, Any]]:
    """Columns device_id, apikey, sensor_id, kind, source_id, lat, lon, then `attr:<name>`
    (our field, optionally `field unit`) and `static:<field>` as needed."""
    rows: list[dict[str, Any]] = []
    for row in csv.DictReader(io.StringIO(text)):
        item: dict[str, Any] = {"_section": "devices", "attributes": {}, "static": {}}
        for column, value in row.items():
            if column is None or value is None or value == "":
                continue
            column = column.strip()
            if column.startswith("attr:"):
                name, _, unit = value.strip().partition(" ")
                item["attributes"][column[5:]] = {"name": name, "unit": unit.strip() or None}
            elif column.startswith("static:"):
                item["static"][column[7:]] = _csv_value(value)
            elif column in ("lat", "lon"):
                item[column] = _csv_value(value)
            else:
                item[column] = value.strip()
        rows.append(item)
    return rows


def _csv_value(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text.strip()


def _entries(rows: list[Any], where: str) -> list[Device | Source]:
    problems: list[str] = []
    out: list[Device | Source] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            problems.append(f"{where}: entry {n}: expected a mapping")
            continue
        section = row.pop("_section", "devices")
        apikey = row.pop("apikey", None)
        if apikey is not None:
            row["apikey_sha256"] = key_digest(str(apikey))
        model: Callable[..., Device | Source] = Source if section == "sources" else Device
        name = row.get("device_id" if section == "devices" else "source_id", f"#{n}")
        try:
            entry = model(**row)
        except ValidationError as exc:
            for error in exc.errors():
                loc = ".".join(str(p) for p in error["loc"])
                problems.append(
                    f"{where}: {section} {name}: {loc + ': ' if loc else ''}{error['msg']}"
                )
            continue
        except TypeError as exc:
            problems.append(f"{where}: {section} {name}: {exc}")
            continue
        key = entry_key(entry)
        if key in seen:
            problems.append(f"{where}: {section} {name}: listed twice")
        seen.add(key)
        out.append(entry)
    if problems:
        raise RegistryError("\n".join(problems))
    return out
