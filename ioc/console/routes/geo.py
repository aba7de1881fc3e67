"""`/api/zones` and `/api/sensors`: GeoJSON FeatureCollections (RFC 7946) for the map.

Zones carry whether their schedule is active now (a school zone in school hours, a restricted
area at night). Sensors are the latest statuses the workers published on `ioc.sensors`. A
district caller gets its own district's zones and sensors only.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any, Literal

import shapely
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ioc.console.deps import CallerDep, ConsoleDep
from ioc.console.problems import responses
from ioc.schemas.sensors import SensorState

router = APIRouter(prefix="/api", tags=["map"])
SENSOR_MAP_WAIT_S = 10.0


class Feature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any]
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]
    complete: bool = Field(
        default=True,
        description="False while the console is still reading the sensor topic after a start.",
    )


@router.get(
    "/zones",
    response_model=FeatureCollection,
    responses=responses(401, 422),
    summary="District outlines and special zones, with whether each is active now",
)
async def zones(console: ConsoleDep, principal: CallerDep) -> FeatureCollection:
    now = console.clock()
    features = [
        Feature(
            id=zone.id,
            geometry=shapely.geometry.mapping(zone.geometry),
            properties={
                "id": zone.id,
                "kind": zone.kind,
                "name": zone.name,
                "name_en": zone.name_en,
                "district": zone.district,
                "scheduled": bool(zone.schedules),
                "active": zone.active_at(now),
            },
        )
        for zone in console.zones.zones
        if principal.district is None
        or zone.district == principal.district
        or (zone.kind == "district" and zone.id == principal.district)
    ]
    return FeatureCollection(features=features)


@router.get(
    "/sensors",
    response_model=FeatureCollection,
    responses=responses(401, 422),
    summary="Every sensor's latest status, place, values and VN_AQI",
)
async def sensors(
    console: ConsoleDep,
    principal: CallerDep,
    status: Annotated[list[SensorState] | None, Query(description="Repeatable.")] = None,
    kind: Annotated[
        list[Literal["traffic", "camera", "environment"]] | None, Query(description="Repeatable.")
    ] = None,
) -> FeatureCollection:
    feed = console.feed
    if not feed.ready.is_set():
        with contextlib.suppress(TimeoutError):  # answered below as incomplete
            await asyncio.wait_for(feed.ready.wait(), SENSOR_MAP_WAIT_S)
    wanted_status = set(status or ())
    wanted_kind = set(kind or ())
    features = [
        Feature(
            id=s.sensor_id,
            geometry={"type": "Point", "coordinates": [s.lon, s.lat]},
            properties=s.model_dump(mode="json", exclude={"lat", "lon"}),
        )
        for s in list(feed.sensors.values())
        if principal.sees_district(s.district)
        and (not wanted_status or s.status in wanted_status)
        and (not wanted_kind or s.kind in wanted_kind)
    ]
    return FeatureCollection(features=features, complete=feed.ready.is_set())
