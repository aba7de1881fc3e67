"""Constrained types shared by every model: ids, coordinates, timestamps, texts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def utcnow() -> datetime:
    """Processing time, aware and in UTC: the default clock of whatever takes one."""
    return datetime.now(UTC)


# Identifiers travel in Kafka keys, topic names and URLs: ASCII, bounded.
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")]
Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
# Timestamps must say their zone (a naive time from a device is ambiguous); stored in UTC.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0)]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0)]
# Vietnamese plates: "49A-123.45", "51F12345"; cameras may add spaces.
Plate = Annotated[str, Field(min_length=4, max_length=16, pattern=r"^[0-9A-Z][0-9A-Z.\- ]+$")]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    """Input from the field: strict types, no extra keys, no NaN or infinity, immutable."""

    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, allow_inf_nan=False, str_max_length=2000
    )


class Text(Strict):
    """A text an operator reads, in Vietnamese and English."""

    vi: ShortText
    en: ShortText
