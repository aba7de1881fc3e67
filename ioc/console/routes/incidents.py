"""`/api/incidents`: the list, one incident with its versions, its CAP messages, the counts,
and operators' actions (acknowledge, resolve) — the same commands `ioc incidents` sends."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, Field

from ioc.cap import to_cap
from ioc.console.access import Principal
from ioc.console.deps import ActorDep, CallerDep, ConsoleDep
from ioc.console.incident_reader import PROVINCE, BadCursor, Cursor, IncidentFilter
from ioc.console.problems import Problem, responses
from ioc.districts import DISTRICT_SLUGS
from ioc.incidents.actions import ACTIONS, ActionRefused, applied, command_for
from ioc.schemas.alerts import Category, Severity
from ioc.schemas.incidents import Incident, IncidentStatus

router = APIRouter(prefix="/api", tags=["incidents"])
CAP_MEDIA_TYPE = "application/cap+xml"
IncidentId = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
DistrictName = Literal[
    "province", "da-lat", "bao-loc", "lac-duong", "da-teh", "bao-lam", "dam-rong", "duc-trong"
]
assert set(DistrictName.__args__) == {PROVINCE, *DISTRICT_SLUGS}  # type: ignore[attr-defined]


class IncidentPage(BaseModel):
    incidents: list[Incident]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class VersionLink(BaseModel):
    version: int
    status: IncidentStatus
    at: datetime
    cap: str = Field(description="This version as a CAP 1.2 message.")


class IncidentDetail(BaseModel):
    incident: Incident
    versions: list[VersionLink]


class ActionRequest(BaseModel):
    note: Annotated[str, Field(max_length=2000)] | None = None


class ActionOutcome(BaseModel):
    outcome: Literal["acknowledged", "resolved"]
    incident: Incident


class CountGroup(BaseModel):
    district: str = Field(description="A district slug, or 'province'.")
    severity: Severity
    status: IncidentStatus
    count: int


class Counts(BaseModel):
    total: int
    by_district: dict[str, int]
    by_severity: dict[str, int]
    by_status: dict[str, int]
    groups: list[CountGroup]


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        west, south, east, north = (float(x) for x in text.split(","))
    except ValueError:
        raise Problem(422, "invalid-request", "bbox: west,south,east,north in degrees") from None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise Problem(422, "invalid-request", "bbox: west ≤ east in [-180, 180], south ≤ north")
    return (west, south, east, north)


def incident_filter(
    principal: CallerDep,
    district: Annotated[list[DistrictName] | None, Query(description="Repeatable.")] = None,
    status: Annotated[list[IncidentStatus] | None, Query(description="Repeatable.")] = None,
    severity: Annotated[list[Severity] | None, Query(description="Repeatable.")] = None,
    rule: Annotated[list[Annotated[str, Field(max_length=64)]] | None, Query()] = None,
    category: Annotated[list[Category] | None, Query(description="Repeatable.")] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Last seen at or after (ISO-8601, zoned).")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="First seen at or before (ISO-8601, zoned).")
    ] = None,
    bbox: Annotated[
        str | None, Query(description="west,south,east,north (degrees, WGS84).", max_length=100)
    ] = None,
    q: Annotated[
        str | None, Query(description="Text in the title, subject or id.", max_length=200)
    ] = None,
) -> IncidentFilter:
    districts = tuple(district or ())
    own = principal.district
    if own is not None and any(d != own for d in districts):
        raise Problem(403, "other-district", f"the {principal.role} role sees {own} only")
    return IncidentFilter(
        districts=districts,
        statuses=tuple(status or ()),
        severities=tuple(severity or ()),
        rules=tuple(rule or ()),
        categories=tuple(category or ()),
        since=since,
        until=until,
        bbox=_bbox(bbox),
        text=q or None,
    )


FilterDep = Annotated[IncidentFilter, Depends(incident_filter)]


async def _visible(console: ConsoleDep, principal: Principal, incident_id: str) -> Incident:
    incident = await console.reader.get(principal.district, incident_id)
    if incident is None:
        # The same answer for another district's incident as for none: no existence leak.
        raise Problem(404, "no-such-incident", f"no incident {incident_id}")
    return incident


@router.get(
    "/incidents",
    response_model=IncidentPage,
    responses=responses(401, 403, 422, 503),
    summary="Incidents, newest first, filtered, a page at a time",
)
async def list_incidents(
    console: ConsoleDep,
    principal: CallerDep,
    query: FilterDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> IncidentPage:
    try:
        after = Cursor.decode(cursor) if cursor else None
    except BadCursor as exc:
        raise Problem(422, "invalid-request", f"cursor: {exc}") from None
    page = await console.reader.page(principal.district, query, limit, after)
    return IncidentPage(
        incidents=page.incidents,
        next_cursor=page.next_cursor.encode() if page.next_cursor else None,
    )


@router.get(
    "/counts",
    response_model=Counts,
    responses=responses(401, 403, 422, 503),
    summary="How many incidents, by district, severity and status",
)
async def counts(console: ConsoleDep, principal: CallerDep, query: FilterDep) -> Counts:
    rows = await console.reader.counts(principal.district, query)
    groups = [
        CountGroup(district=d or PROVINCE, severity=sev, status=st, count=n)
        for d, sev, st, n in rows
    ]
    by: dict[str, dict[str, int]] = {"district": {}, "severity": {}, "status": {}}
    for g in groups:
        for name, key in (("district", g.district), ("severity", g.severity), ("status", g.status)):
            by[name][key] = by[name].get(key, 0) + g.count
    return Counts(
        total=sum(g.count for g in groups),
        by_district=by["district"],
        by_severity=by["severity"],
        by_status=by["status"],
        groups=groups,
    )


@router.get(
    "/incidents/{incident_id}",
    response_model=IncidentDetail,
    responses=responses(401, 404, 422, 503),
    summary="One incident: its latest state, history, evidence and every version",
)
async def get_incident(
    console: ConsoleDep, principal: CallerDep, incident_id: IncidentId
) -> IncidentDetail:
    incident = await _visible(console, principal, incident_id)
    versions = await console.reader.versions(incident_id)
    return IncidentDetail(
        incident=incident,
        versions=[
            VersionLink(
                version=v.version,
                status=v.status,
                at=v.history[-1].at if v.history else v.last_seen,
                cap=f"/api/incidents/{incident_id}/versions/{v.version}/cap",
            )
            for v in versions
        ],
    )


@router.get(
    "/incidents/{incident_id}/versions/{version}/cap",
    response_class=Response,
    responses={
        200: {"content": {CAP_MEDIA_TYPE: {"schema": {"type": "string"}}}},
        **responses(401, 404, 422, 503),
    },
    summary="One version of an incident as an OASIS CAP 1.2 alert",
)
async def incident_cap(
    console: ConsoleDep,
    principal: CallerDep,
    incident_id: IncidentId,
    version: Annotated[int, Path(ge=1, le=1_000_000)],
) -> Response:
    await _visible(console, principal, incident_id)
    stored = await console.reader.version(incident_id, version)
    if stored is None:
        raise Problem(404, "no-such-version", f"{incident_id} has no version {version}")
    return Response(to_cap(stored, names=console.zone_names), media_type=CAP_MEDIA_TYPE)


async def _act(
    console: ConsoleDep, principal: Principal, incident_id: str, action: str, note: str | None
) -> ActionOutcome:
    incident = await _visible(console, principal, incident_id)
    try:
        command = command_for(incident, action, principal.name, note, console.clock())
    except ActionRefused as refused:
        kind = f"already-{incident.status}" if refused.already else "action-refused"
        raise Problem(409, kind.replace("_", "-"), refused.reason) from None
    try:
        done = await console.apply(incident, command, lambda i: applied(incident, i, action))
    except KafkaError as exc:
        raise Problem(503, "broker-unavailable", f"the command was not sent: {exc}") from None
    except TimeoutError:
        raise Problem(
            504,
            "not-applied",
            f"{action} of {incident_id} was sent, but no worker applied it within "
            f"{console.settings.console_action_timeout:g} s (is a worker running?)",
        ) from None
    return ActionOutcome(outcome=ACTIONS[action], incident=done)


def _action_route(action: str, summary: str) -> None:
    async def act(
        console: ConsoleDep,
        principal: ActorDep,
        incident_id: IncidentId,
        body: ActionRequest | None = None,
    ) -> ActionOutcome:
        return await _act(console, principal, incident_id, action, body.note if body else None)

    router.add_api_route(
        f"/incidents/{{incident_id}}/{action}",
        act,
        methods=["POST"],
        name=action,
        response_model=ActionOutcome,
        responses=responses(401, 403, 404, 409, 422, 503, 504),
        summary=summary,
    )


_action_route("acknowledge", "Acknowledge an open incident (it stops the escalation clock)")
_action_route("resolve", "Resolve an incident")
