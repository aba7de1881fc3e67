"""A grid for meeting neighbours: points within r metres of each other share a cell key.

Correlation of alerts from different sources needs them in one place (one partition, one
table entry). Each alert goes to its home cell and the eight around it, on a grid whose cells
are at least r metres wide, so any two alerts within r metres both reach the home cell of
either. The grid's longitude step is wide enough for latitudes up to 60°.
"""

from __future__ import annotations

import math

METRES_PER_DEGREE_LAT = 110_574.0  # the smallest, at the equator: cells are never too small
MAX_LATITUDE = 60.0
_LON_FACTOR = 1.0 / math.cos(math.radians(MAX_LATITUDE))


def cell_of(lat: float, lon: float, radius_m: float) -> tuple[int, int]:
    step = radius_m / METRES_PER_DEGREE_LAT
    return math.floor(lat / step), math.floor(lon / (step * _LON_FACTOR))


def cells_near(
    lat: float, lon: float, radius_m: float
) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """The home cell of a point, and every cell (home included) a neighbour's home may be."""
    row, col = cell_of(lat, lon, radius_m)
    around = [(row + dr, col + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
    return (row, col), around
