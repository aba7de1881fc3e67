"""What a quiet day looks like: daily cycles of traffic, air, noise and weather.

Background values stay inside what the default rule pack treats as normal (PM2.5 peaks below
~35 µg/m³, i.e. VN_AQI < 100; speeds near the limit outside the peaks; water levels well below
the alarm level; no rain in the dry season), so every alert a scenario produces comes from an
episode it injected. Noise is AR(1), so consecutive readings of a sensor are correlated the way
real ones are.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


def _bump(hour: float, centre: float, width: float) -> float:
    # Distance on the 24 h circle, so a bump near midnight wraps around.
    d = min(abs(hour - centre), 24 - abs(hour - centre))
    return math.exp(-((d / width) ** 2))


def traffic_profile(hour: float) -> float:
    """Share of the peak flow at a local hour: morning and evening peaks, a midday plateau,
    empty roads at night. 1.0 at the morning peak."""
    value = (
        0.06
        + 0.94 * _bump(hour, 7.3, 1.2)
        + 0.85 * _bump(hour, 17.4, 1.4)
        + 0.45 * _bump(hour, 12.3, 2.8)
    )
    return min(value, 1.0)


def pm_profile(hour: float) -> float:
    """PM2.5 relative to the station's mean: morning traffic, evening cooking and the shallow
    night-time boundary layer; cleanest in the windy afternoon."""
    return (
        0.75
        + 0.45 * _bump(hour, 8.0, 1.6)
        + 0.55 * _bump(hour, 19.5, 2.2)
        - 0.2 * _bump(hour, 14.5, 2.5)
    )


def temperature_c(altitude_m: float, hour: float) -> float:
    """A dry-season day: ~0.6 °C cooler per 100 m, coolest at dawn, warmest at 14:00."""
    mean = 27.0 - 0.0062 * altitude_m
    return mean + 4.5 * math.cos(2 * math.pi * (hour - 14.0) / 24)


@dataclass(slots=True)
class Ar1:
    """x' = phi·x + ε: correlated noise around zero."""

    phi: float
    sigma: float
    value: float = 0.0

    def step(self, rng: random.Random) -> float:
        self.value = self.phi * self.value + rng.gauss(0.0, self.sigma)
        return self.value


def poisson(rng: random.Random, mean: float) -> int:
    """Poisson draws; normal approximation above 50 (exact enough, and O(1))."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def smooth_step(u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    return u * u * (3 - 2 * u)


def rise_hold_fall(u: float, rise: float = 0.3, hold: float = 0.4) -> float:
    """0 → 1 over the first `rise` of an episode, 1 for `hold`, back to 0 by its end."""
    if u <= 0 or u >= 1:
        return 0.0
    if u < rise:
        return smooth_step(u / rise)
    if u < rise + hold:
        return 1.0
    return 1.0 - smooth_step((u - rise - hold) / (1 - rise - hold))
