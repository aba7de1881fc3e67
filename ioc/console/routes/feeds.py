"""`/api/feeds/cap/{area}.atom`: Atom feeds of CAP alerts, one per district and one for the
province, the way alert hubs collect CAP: each entry is one incident version and links to its
CAP 1.2 message. A district caller may read its own district's feed only."""

from __future__ import annotations

from typing import Annotated
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Path, Query, Request, Response

from ioc.cap import SENDER_NAME, STATUS_TEXT, cap_time, identifier, msg_type, sent
from ioc.console.deps import CallerDep, ConsoleDep
from ioc.console.problems import Problem, responses
from ioc.console.routes.incidents import CAP_MEDIA_TYPE, DistrictName
from ioc.districts import district as district_named
from ioc.schemas.incidents import Incident

router = APIRouter(prefix="/api/feeds", tags=["feeds"])
ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml"


def _entry(feed: ET.Element, incident: Incident, base: str) -> None:
    entry = ET.SubElement(feed, f"{{{ATOM_NS}}}entry")
    cap_id = identifier(incident.incident_id, incident.version)
    status_vi, _ = STATUS_TEXT[incident.status]
    ET.SubElement(entry, f"{{{ATOM_NS}}}id").text = f"urn:ioc:cap:{cap_id}"
    ET.SubElement(entry, f"{{{ATOM_NS}}}title").text = f"{incident.title.vi} — {status_vi}"
    ET.SubElement(entry, f"{{{ATOM_NS}}}updated").text = cap_time(sent(incident))
    ET.SubElement(
        entry,
        f"{{{ATOM_NS}}}link",
        rel="alternate",
        type=CAP_MEDIA_TYPE,
        href=f"{base}/api/incidents/{incident.incident_id}/versions/{incident.version}/cap",
    )
    ET.SubElement(entry, f"{{{ATOM_NS}}}category", term=incident.severity, label="severity")
    ET.SubElement(
        entry, f"{{{ATOM_NS}}}summary"
    ).text = f"{msg_type(incident)}: {incident.title.en} ({incident.severity}, {incident.status})"


@router.get(
    "/cap/{area}.atom",
    response_class=Response,
    responses={
        200: {"content": {ATOM_MEDIA_TYPE: {"schema": {"type": "string"}}}},
        **responses(401, 403, 422, 503),
    },
    summary="An Atom feed of CAP alerts: 'province' (every incident) or one district",
)
async def cap_feed(
    console: ConsoleDep,
    principal: CallerDep,
    request: Request,
    area: Annotated[DistrictName, Path()],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    own = principal.district
    if own is not None and area != own:
        raise Problem(403, "other-district", f"the {principal.role} role reads the {own} feed")
    district = None if area == "province" else area
    versions = await console.reader.recent_versions(district, limit)
    base = str(request.base_url).rstrip("/")
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    name = "Lâm Đồng" if district is None else district_named(district).name_vi
    ET.SubElement(feed, f"{{{ATOM_NS}}}id").text = f"urn:ioc:lamdong:cap:{area}"
    ET.SubElement(feed, f"{{{ATOM_NS}}}title").text = f"Cảnh báo CAP — {name}"
    ET.SubElement(feed, f"{{{ATOM_NS}}}updated").text = cap_time(
        max((sent(v) for v in versions), default=console.clock())
    )
    author = ET.SubElement(feed, f"{{{ATOM_NS}}}author")
    ET.SubElement(author, f"{{{ATOM_NS}}}name").text = SENDER_NAME["vi"]
    ET.SubElement(
        feed,
        f"{{{ATOM_NS}}}link",
        rel="self",
        type=ATOM_MEDIA_TYPE,
        href=f"{base}/api/feeds/cap/{area}.atom",
    )
    for incident in versions:
        _entry(feed, incident, base)
    ET.indent(feed)
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type=ATOM_MEDIA_TYPE)
