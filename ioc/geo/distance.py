"""Distances on the ground, in metres: rules speak metres, never degrees."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points, in metres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def offset_m(point: tuple[float, float], north_m: float, east_m: float) -> tuple[float, float]:
    """The point moved north and east by the given metres (fine for a few kilometres)."""
    lat, lon = point
    dlat = north_m / EARTH_RADIUS_M
    dlon = east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat)))
    return (lat + math.degrees(dlat), lon + math.degrees(dlon))
