"""Scenario files (YAML): when, where, how many sensors, and the episodes to inject.

A scenario is data that analysts write; it is validated as strictly as a rule file, and an
error names the file, the field and what was expected.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ioc.districts import DISTRICT_SLUGS
from ioc.durations import Duration
from ioc.geo.schedule import LOCAL_ZONE
from ioc.schemas.common import Plate
from simulators.places import ROADS

LOCAL = LOCAL_ZONE
AREAS = (*DISTRICT_SLUGS, "rest")  # "rest": the province outside the seven district IOCs


class ScenarioError(Exception):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# `at` is either a full ISO time or "HH:MM" local time on the scenario's first day (the next
# day when that is before the start): episodes are read relative to the scenario.
At = Annotated[datetime | time, Field(description="ISO time, or HH:MM local time")]


class Counts(_Strict):
    traffic: int = Field(default=0, ge=0, le=20000)
    camera: int = Field(default=0, ge=0, le=5000)
    environment: int = Field(default=0, ge=0, le=20000)


class Batching(_Strict):
    size: int = Field(default=1, ge=1, le=1000, description="1: single readings")
    linger: Duration = Field(default=timedelta(seconds=5))


def _known_road(value: str) -> str:
    known = [r.id for r in ROADS]
    if value not in known:
        raise ValueError(f"unknown road {value!r}; known: {', '.join(known)}")
    return value


def _known_district(value: str) -> str:
    if value not in AREAS:
        raise ValueError(f"unknown district {value!r}; known: {', '.join(AREAS)}")
    return value


RoadId = Annotated[str, AfterValidator(_known_road)]
Area = Annotated[str, AfterValidator(_known_district)]


class Storm(_Strict):
    """Heavy rain over a flood zone: rain and water level rise together, then recede."""

    type: Literal["storm"]
    zone: str
    at: At
    duration: Duration = timedelta(minutes=90)
    peak_rain_mm_h: float = Field(default=60, gt=0, le=500)
    peak_water_level_cm: float = Field(default=180, gt=0, le=2000)


class Accident(_Strict):
    """A crash on a road: an accident event with a plate, then stalled, slow traffic."""

    type: Literal["accident"]
    road: RoadId
    at: At
    position: float = Field(default=0.5, ge=0, le=1, description="along the road, 0..1")
    duration: Duration = timedelta(minutes=40)
    plate: Plate = "49A-123.45"


class WrongWay(_Strict):
    type: Literal["wrong_way"]
    road: RoadId
    at: At
    position: float = Field(default=0.5, ge=0, le=1)
    plate: Plate = "51F-678.90"


class Congestion(_Strict):
    type: Literal["congestion"]
    road: RoadId
    district: Area | None = Field(default=None, description="only the road's stations there")
    at: At
    duration: Duration = timedelta(hours=1)


class Intrusion(_Strict):
    """A person enters a restricted zone and stays: a track that crosses the boundary."""

    type: Literal["intrusion"]
    zone: str
    at: At
    duration: Duration = timedelta(minutes=10)
    track_id: str = "trk-intruder-1"


class AirPollution(_Strict):
    """A PM2.5 episode over a district: every air-quality sensor there rises together."""

    type: Literal["air_pollution"]
    district: Area
    at: At
    duration: Duration = timedelta(hours=3)
    peak_pm25: float = Field(default=160, gt=0, le=2000)


class Fire(_Strict):
    """Smoke on camera and a temperature spike nearby: a fire (for correlation rules)."""

    type: Literal["fire"]
    zone: str
    at: At
    duration: Duration = timedelta(minutes=30)


class Silence(_Strict):
    """A station stops sending (power cut, broken modem), then comes back."""

    type: Literal["silence"]
    district: Area
    station: int = Field(default=0, ge=0, description="which of the district's stations")
    at: At
    duration: Duration = timedelta(hours=1)


class PlateMatch(_Strict):
    """A watch-listed plate read by a camera in the district."""

    type: Literal["plate_match"]
    district: Area
    at: At
    plate: Plate = "30K-999.99"


class Detection(_Strict):
    """Any other video-analytics finding in a zone: loitering, a crowd, an abandoned object."""

    type: Literal["detection"]
    analytic: Literal["loitering", "crowd", "abandoned_object"]
    zone: str
    at: At
    duration: Duration = timedelta(minutes=15)
    count: int = Field(default=250, ge=1, le=100_000, description="people, for a crowd")


Episode = Annotated[
    Storm
    | Accident
    | WrongWay
    | Congestion
    | Intrusion
    | AirPollution
    | Fire
    | Silence
    | PlateMatch
    | Detection,
    Field(discriminator="type"),
]


class Scenario(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    title: dict[Literal["vi", "en"], str] | None = None
    description: str | None = None
    start: datetime
    duration: Duration
    seed: int = 1
    interval: Duration = Field(default=timedelta(minutes=1), description="reporting period")
    batch: Batching = Batching()
    sensors: dict[str, Counts]
    malformed: float = Field(default=0.0, ge=0, le=1, description="share of broken messages")
    episodes: list[Episode] = Field(default_factory=list)

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start needs a zone, e.g. 2026-11-23T13:00:00+07:00")
        return value

    @field_validator("sensors")
    @classmethod
    def _areas(cls, value: dict[str, Counts]) -> dict[str, Counts]:
        unknown = sorted(set(value) - set(AREAS))
        if unknown:
            raise ValueError(f"unknown area(s) {', '.join(unknown)}; known: {', '.join(AREAS)}")
        return value

    @model_validator(mode="after")
    def _sane(self) -> Scenario:
        if self.duration <= timedelta(0) or self.duration > timedelta(days=31):
            raise ValueError("duration must be between 1s and 31d")
        if not timedelta(seconds=1) <= self.interval <= timedelta(hours=1):
            raise ValueError("interval must be between 1s and 1h")
        return self

    def episode_start(self, episode: Any) -> datetime:
        at = episode.at
        if isinstance(at, datetime):
            if at.tzinfo is None:
                raise ScenarioError(f"episode {episode.type}: at needs a zone or HH:MM")
            return at
        local_start = self.start.astimezone(LOCAL)
        when = datetime.combine(local_start.date(), at, tzinfo=LOCAL)
        return when if when >= local_start else when + timedelta(days=1)

    def with_start(self, start: datetime) -> Scenario:
        """The same scenario moved in time, its HH:MM episodes moved with it."""
        delta = start - self.start
        episodes = [
            e.model_copy(update={"at": self.episode_start(e) + delta}) for e in self.episodes
        ]
        return self.model_copy(update={"start": start, "episodes": episodes})


def parse_scenario(text: str, source: str) -> Scenario:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: not valid YAML: {exc}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc']) or 'scenario'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
        raise ScenarioError(f"{source}: invalid scenario\n" + "\n".join(lines)) from None


def shipped_scenarios() -> list[str]:
    folder = resources.files("simulators").joinpath("scenarios")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario file, or the name of one shipped with ioc (see `ioc simulate --list`)."""
    path = Path(name_or_path)
    if path.is_file():
        return parse_scenario(path.read_text(encoding="utf-8"), str(path))
    name = str(name_or_path)
    if name in shipped_scenarios():
        resource = resources.files("simulators").joinpath("scenarios", f"{name}.yaml")
        return parse_scenario(resource.read_text(encoding="utf-8"), f"scenario {name}")
    raise ScenarioError(
        f"no scenario file {name!r}; shipped scenarios: {', '.join(shipped_scenarios())}"
    )
