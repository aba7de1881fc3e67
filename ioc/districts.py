"""The district IOCs of Lâm Đồng: each one subscribes to its own incident feed.

Since 1 July 2025 Vietnam has no district level of government; a "district" here is the
jurisdiction of a subordinate IOC as the zone set defines it. Slugs are ASCII and stable: they
name topics (`ioc.incidents.<slug>`), Kafka users and API roles.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class District:
    slug: str
    name_vi: str
    name_en: str


DISTRICTS: tuple[District, ...] = (
    District("da-lat", "Đà Lạt", "Da Lat"),
    District("bao-loc", "Bảo Lộc", "Bao Loc"),
    District("lac-duong", "Lạc Dương", "Lac Duong"),
    District("da-teh", "Đạ Tẻh", "Da Teh"),
    District("bao-lam", "Bảo Lâm", "Bao Lam"),
    District("dam-rong", "Đam Rông", "Dam Rong"),
    District("duc-trong", "Đức Trọng", "Duc Trong"),
)

DISTRICT_SLUGS: tuple[str, ...] = tuple(d.slug for d in DISTRICTS)


def district(slug: str) -> District:
    for d in DISTRICTS:
        if d.slug == slug:
            return d
    raise KeyError(f"unknown district {slug!r}; known: {', '.join(DISTRICT_SLUGS)}")
