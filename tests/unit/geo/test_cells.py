"""The correlation grid: two points within r metres always meet in the home cell of each."""

from __future__ import annotations

import math
import random

import pytest

from ioc.geo.cells import cell_of, cells_near
from ioc.geo.distance import distance_m, offset_m


@pytest.mark.parametrize("radius", [50.0, 300.0, 5_000.0])
@pytest.mark.parametrize("lat", [0.0, 11.94, 23.4, -45.0, 59.5])
def test_neighbours_within_the_radius_reach_each_others_home_cell(
    radius: float, lat: float
) -> None:
    rng = random.Random(f"{radius}-{lat}")
    for _ in range(400):
        a = (lat + rng.uniform(-0.5, 0.5), 108.0 + rng.uniform(-0.5, 0.5))
        bearing = rng.uniform(0, 2 * math.pi)
        reach = radius * rng.uniform(0.0, 0.999)
        b = offset_m(a, reach * math.cos(bearing), reach * math.sin(bearing))
        assert distance_m(a, b) <= radius
        home_a, around_a = cells_near(*a, radius)
        home_b, around_b = cells_near(*b, radius)
        assert home_a in around_b
        assert home_b in around_a


def test_far_points_do_not_share_a_home() -> None:
    a = (11.94, 108.44)
    b = offset_m(a, 3 * 300.0, 0.0)
    assert cell_of(*a, 300.0) != cell_of(*b, 300.0)
    assert cell_of(*a, 300.0) not in cells_near(*b, 300.0)[1]
