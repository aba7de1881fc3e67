"""`/api/me` (who the caller is, what it may do), `/api/config` (what the page needs to draw:
districts, severities, the VN_AQI bands and their official colours, a basemap) and `/healthz`
(for a load balancer: no token, nothing about incidents)."""

from __future__ import annotations

from typing import Literal, get_args

from fastapi import APIRouter
from pydantic import BaseModel

from ioc import __version__
from ioc.aqi import LEVELS
from ioc.console.deps import CallerDep, ConsoleDep
from ioc.console.problems import responses
from ioc.districts import DISTRICTS
from ioc.schemas.alerts import Severity

router = APIRouter(tags=["meta"])
SEVERITIES: tuple[str, ...] = get_args(Severity)


class Me(BaseModel):
    name: str
    role: str
    district: str | None
    may_act: bool
    via: Literal["token", "oidc"]


class DistrictInfo(BaseModel):
    slug: str
    name_vi: str
    name_en: str


class AqiLevel(BaseModel):
    low: int
    high: int
    vi: str
    en: str
    colour: str
    rgb: tuple[int, int, int]


class ConsoleConfig(BaseModel):
    version: str
    districts: list[DistrictInfo]
    severities: list[str]
    aqi_levels: list[AqiLevel]
    basemap_style: str | None
    zone_set: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    feed_connected: bool
    sensor_map_ready: bool


@router.get("/api/me", response_model=Me, responses=responses(401), summary="The caller")
async def me(principal: CallerDep) -> Me:
    return Me(
        name=principal.name,
        role=str(principal.role),
        district=principal.district,
        may_act=principal.may_act,
        via=principal.via,
    )


@router.get(
    "/api/config",
    response_model=ConsoleConfig,
    responses=responses(401),
    summary="What the page draws with",
)
async def config(console: ConsoleDep, principal: CallerDep) -> ConsoleConfig:
    visible = [d for d in DISTRICTS if principal.district in (None, d.slug)]
    return ConsoleConfig(
        version=__version__,
        districts=[
            DistrictInfo(slug=d.slug, name_vi=d.name_vi, name_en=d.name_en) for d in visible
        ],
        severities=list(SEVERITIES),
        aqi_levels=[
            AqiLevel(low=lv.low, high=lv.high, vi=lv.vi, en=lv.en, colour=lv.colour, rgb=lv.rgb)
            for lv in LEVELS
        ],
        basemap_style=console.settings.console_basemap_style,
        zone_set=console.zones.name,
    )


@router.get("/healthz", response_model=Health, summary="Liveness, for a load balancer")
async def health(console: ConsoleDep) -> Health:
    feed = console.feed
    return Health(
        status="ok" if feed.connected else "degraded",
        feed_connected=feed.connected,
        sensor_map_ready=feed.ready.is_set(),
    )
