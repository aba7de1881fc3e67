"""Incidents as OASIS Common Alerting Protocol 1.2 messages (namespace CAP_NS).

One `<alert>` per incident version: msgType `Alert` for the first, `Update` for later ones and
`Cancel` for the version that closes the incident, each later one naming all earlier ones in
`<references>`. Two `<info>` blocks, Vietnamese then English. The area is a circle around a
point incident, or the incident's polygon — in CAP's "lat,lon" order (GeoJSON is [lon, lat]),
with the ring closed. CAP times carry a numeric offset (never "Z"): local time, +07:00.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from ioc.districts import DISTRICT_SLUGS, district
from ioc.geo.schedule import LOCAL_ZONE
from ioc.schemas.incidents import Incident, PolygonGeometry

if TYPE_CHECKING:
    from ioc.geo.zones import ZoneSet

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
POINT_RADIUS_KM = 0.5
SENDER = "ioc@lamdong.gov.vn"
SENDER_NAME = {
    "vi": "Trung tâm giám sát và điều hành thông minh tỉnh Lâm Đồng",
    "en": "Lâm Đồng Intelligent Operations Centre",
}
RESTRICTION = "Lâm Đồng IOC operators and the district IOC concerned"
CLOSED = ("resolved", "auto_resolved")
STATUS_TEXT = {
    "open": ("Đang xử lý", "Open"),
    "acknowledged": ("Đã tiếp nhận", "Acknowledged"),
    "resolved": ("Đã giải quyết", "Resolved"),
    "auto_resolved": ("Đã tự kết thúc", "Cleared"),
}


def cap_time(moment: datetime) -> str:
    return moment.astimezone(LOCAL_ZONE).isoformat(timespec="seconds")


def identifier(incident_id: str, version: int) -> str:
    return f"{incident_id}-v{version}"


def _sent_of(incident: Incident, version: int) -> datetime:
    for change in incident.history:
        if change.version == version:
            return change.at
    return incident.last_seen


def sent(incident: Incident) -> datetime:
    """When this version was sent: the time of the change that made it."""
    return _sent_of(incident, incident.version)


def msg_type(incident: Incident) -> str:
    if incident.version == 1:
        return "Alert"
    return "Cancel" if incident.status in CLOSED else "Update"


# A zone's names by its id: Vietnamese, and English when the zone file gives one.
ZoneNames = Mapping[str, tuple[str, str | None]]


def zone_names(zone_set: ZoneSet) -> dict[str, tuple[str, str | None]]:
    return {zone.id: (zone.name, zone.name_en) for zone in zone_set.zones}


def _area_desc(incident: Incident, lang: str, names: ZoneNames) -> str:
    if incident.district in DISTRICT_SLUGS:
        d = district(incident.district)
        name = d.name_vi if lang == "vi" else d.name_en
    else:
        name = "Lâm Đồng"
    if not incident.zones:
        return name

    def named(zone_id: str) -> str:
        # A zone the current set no longer has keeps its id: better than nothing.
        vi, en = names.get(zone_id, (zone_id, None))
        return (en or vi) if lang == "en" else vi

    return f"{name}: {', '.join(map(named, incident.zones))}"


def to_cap(incident: Incident, sender: str = SENDER, names: ZoneNames | None = None) -> bytes:
    """`names`: the zones' names (areaDesc names them; without, by their ids)."""
    ET.register_namespace("", CAP_NS)
    alert = ET.Element(f"{{{CAP_NS}}}alert")

    def add(parent: ET.Element, tag: str, text: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
        element.text = text
        return element

    sent = _sent_of(incident, incident.version)
    add(alert, "identifier", identifier(incident.incident_id, incident.version))
    add(alert, "sender", sender)
    add(alert, "sent", cap_time(sent))
    add(alert, "status", "Actual")
    kind = msg_type(incident)
    add(alert, "msgType", kind)
    add(alert, "scope", "Restricted")
    add(alert, "restriction", RESTRICTION)
    last = incident.history[-1] if incident.history else None
    if last is not None:
        note = f"{last.action} by {last.actor}" + (f": {last.note}" if last.note else "")
        add(alert, "note", note)
    if incident.version > 1:
        add(
            alert,
            "references",
            " ".join(
                f"{sender},{identifier(incident.incident_id, v)},{cap_time(_sent_of(incident, v))}"
                for v in range(1, incident.version)
            ),
        )
    add(alert, "incidents", incident.incident_id)
    for lang, language in (("vi", "vi-VN"), ("en", "en-US")):
        info = add(alert, "info", "")
        info.text = None
        add(info, "language", language)
        add(info, "category", incident.category)
        title = incident.title.vi if lang == "vi" else incident.title.en
        add(info, "event", title)
        add(info, "responseType", "Monitor" if kind != "Cancel" else "AllClear")
        add(info, "urgency", "Past" if incident.status in CLOSED else "Immediate")
        add(info, "severity", incident.severity.capitalize())
        add(info, "certainty", "Observed")
        add(info, "effective", cap_time(incident.first_seen))
        add(info, "onset", cap_time(incident.first_seen))
        add(info, "senderName", SENDER_NAME[lang])
        status_vi, status_en = STATUS_TEXT[incident.status]
        add(info, "headline", f"{title} — {status_vi if lang == 'vi' else status_en}"[:160])
        escalated = (
            (" Đã chuyển lên Trung tâm tỉnh." if lang == "vi" else " Escalated to the province.")
            if incident.escalated
            else ""
        )
        readings = ", ".join(f"{e.sensor_id} {e.field}={e.value}" for e in incident.evidence[-5:])
        add(
            info,
            "description",
            (
                f"{incident.alert_count} cảnh báo từ {cap_time(incident.first_seen)} đến "
                f"{cap_time(incident.last_seen)}. {readings}.{escalated}"
                if lang == "vi"
                else f"{incident.alert_count} alerts from {cap_time(incident.first_seen)} to "
                f"{cap_time(incident.last_seen)}. {readings}.{escalated}"
            ),
        )
        parameter = add(info, "parameter", "")
        parameter.text = None
        add(parameter, "valueName", "ioc:rule")
        add(parameter, "value", incident.rule_id)
        _area(info, incident, lang, names or {})
    ET.indent(alert)
    out: bytes = ET.tostring(alert, encoding="utf-8", xml_declaration=True)
    return out


def _area(info: ET.Element, incident: Incident, lang: str, names: ZoneNames) -> None:
    area = ET.SubElement(info, f"{{{CAP_NS}}}area")
    ET.SubElement(area, f"{{{CAP_NS}}}areaDesc").text = _area_desc(incident, lang, names)
    location = incident.location
    if isinstance(location, PolygonGeometry):
        ring = list(location.coordinates[0])
        if ring and ring[0] != ring[-1]:
            ring.append(ring[0])
        ET.SubElement(area, f"{{{CAP_NS}}}polygon").text = " ".join(
            f"{lat},{lon}" for lon, lat in ring
        )
    else:
        lon, lat = location.coordinates
        ET.SubElement(area, f"{{{CAP_NS}}}circle").text = f"{lat},{lon} {POINT_RADIUS_KM}"
