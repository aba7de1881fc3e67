"""Where a bridged message goes: its Kafka topic and key, or why it cannot go anywhere.

An MQTT topic is matched against templates, one placeholder per topic level:
`lamdong/{district}/{kind}/{source_id}` carries full readings or gateway batches, as a
gateway or a simulator writes them; `/json/{apikey}/{device_id}/attrs` is FIWARE's IoT
Agent for JSON, values only, completed from the device registry. HTTP ingest routes the same
way without a topic (`route_readings`, `route_values`).

Full readings are forwarded byte for byte: the worker validates them and dead-letters what
is wrong. Only a device's values are parsed here, because they must be completed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from ioc.bridge.registry import Registry, key_digest
from ioc.districts import DISTRICT_SLUGS
from ioc.kafka.topics import SENSOR_TOPICS
from ioc.schemas.readings import READING_KINDS

# A `{district}` level names a district IOC, or the province for a device outside them.
PROVINCE = "province"
PLACEHOLDERS = ("district", "kind", "source_id", "device_id", "apikey")
DEFAULT_TEMPLATES = (
    "lamdong/{district}/{kind}/{source_id}",
    "/json/{apikey}/{device_id}/attrs",
    "json/{apikey}/{device_id}/attrs",
)
_PLACEHOLDER = re.compile(r"^\{(\w+)\}$")


def sensor_topic(kind: str) -> str:
    topic = f"sensors.{kind}"
    assert topic in SENSOR_TOPICS
    return topic


@dataclass(frozen=True, slots=True)
class Routed:
    topic: str  # without the settings' prefix
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    category: str  # counted: no-template, unknown-device, wrong-apikey, not-json, …
    reason: str
    kind: str | None = None  # the reading kind, when known: the dead letter's topic is its


class TemplateError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Template:
    text: str
    levels: tuple[str, ...]  # a literal level, or a placeholder's name in braces

    @classmethod
    def parse(cls, text: str) -> Template:
        levels = tuple(text.split("/"))
        names = []
        for level in levels:
            match = _PLACEHOLDER.match(level)
            if match:
                if match[1] not in PLACEHOLDERS:
                    raise TemplateError(
                        f"{text}: unknown placeholder {level} (known: "
                        + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                        + ")"
                    )
                names.append(match[1])
            elif "{" in level or "}" in level or "+" in level or "#" in level:
                raise TemplateError(f"{text}: a placeholder fills a whole topic level: {level!r}")
        if len(set(names)) != len(names):
            raise TemplateError(f"{text}: a placeholder appears twice")
        if "device_id" not in names and not {"kind", "source_id"} <= set(names):
            raise TemplateError(
                f"{text}: needs {{device_id}} (values, completed from the device registry) "
                "or {kind} and {source_id} (full readings)"
            )
        return cls(text, levels)

    @property
    def subscription(self) -> str:
        """The MQTT topic filter that receives what the template matches."""
        return "/".join("+" if level.startswith("{") else level for level in self.levels)

    def match(self, topic: str) -> dict[str, str] | None:
        parts = topic.split("/")
        if len(parts) != len(self.levels):
            return None
        found: dict[str, str] = {}
        for level, part in zip(self.levels, parts, strict=True):
            if level.startswith("{"):
                if not part:
                    return None
                found[level[1:-1]] = part
            elif level != part:
                return None
        if "kind" in found and found["kind"] not in READING_KINDS:
            return None
        if "district" in found and found["district"] not in (*DISTRICT_SLUGS, PROVINCE):
            return None
        return found


def parse_templates(texts: tuple[str, ...]) -> tuple[Template, ...]:
    return tuple(Template.parse(t) for t in texts)


class Router:
    def __init__(
        self, templates: tuple[Template, ...], registry: Registry, max_bytes: int = 1_048_576
    ) -> None:
        self.templates = templates
        self.registry = registry
        self.max_bytes = max_bytes

    def route_mqtt(self, topic: str, payload: bytes, received_at: datetime) -> Routed | Refused:
        if len(payload) > self.max_bytes:
            return Refused(
                "too-large", f"the message is {len(payload)} bytes, over {self.max_bytes}"
            )
        for template in self.templates:
            fields = template.match(topic)
            if fields is None:
                continue
            if "device_id" in fields:
                return self.route_values(
                    fields["device_id"], fields.get("apikey"), payload, received_at
                )
            return Routed(sensor_topic(fields["kind"]), fields["source_id"].encode(), payload)
        return Refused(
            "no-template",
            f"MQTT topic {topic!r} fits no template ("
            + ", ".join(t.text for t in self.templates)
            + "), or names an unknown district or kind",
        )

    def route_readings(self, kind: str, apikey: str | None, body: bytes) -> Routed | Refused:
        """A reading or a gateway batch POSTed for a kind: its source is the body's."""
        if kind not in READING_KINDS:
            return Refused("unknown-kind", f"kind must be one of {', '.join(READING_KINDS)}")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return Refused("not-json", f"the body is not JSON: {exc}", kind)
        source_id = document.get("source_id") if isinstance(document, dict) else None
        if not isinstance(source_id, str) or not source_id:
            return Refused("no-source", "the body names no source_id", kind)
        if apikey is None or not self.registry.may_send(apikey, source_id):
            return Refused("wrong-apikey", f"the API key may not send for source {source_id}", kind)
        return Routed(sensor_topic(kind), source_id.encode(), body)

    def route_values(
        self, device_id: str, apikey: str | None, payload: bytes, received_at: datetime
    ) -> Routed | Refused:
        device = self.registry.devices.get(device_id)
        if device is None:
            return Refused("unknown-device", f"device {device_id!r} is not in the registry")
        if apikey is not None and device.apikey_sha256 != key_digest(apikey):
            return Refused(
                "wrong-apikey", f"the API key is not that of device {device_id!r}", device.kind
            )
        try:
            document = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            return Refused("not-json", f"the message is not JSON: {exc}", device.kind)
        when = received_at.astimezone(UTC).isoformat()
        measures: list[Any] = document if isinstance(document, list) else [document]
        if not measures or not all(isinstance(m, dict) for m in measures):
            return Refused(
                "not-an-object",
                "expected a JSON object of attribute values (or a list of them)",
                device.kind,
            )
        readings = [device.reading(m, when) for m in measures]
        value: Any = (
            readings[0]
            if len(readings) == 1
            else {"source_id": device.source_id, "readings": readings}
        )
        return Routed(sensor_topic(device.kind), device.source_id.encode(), orjson.dumps(value))
