"""ZoneIndex: which zones contain each point of a batch, and which district IOC owns it.

Built once per zone set on a `shapely.STRtree` of prepared geometries and queried for a whole
batch of points at once: no Python loop runs per point or per zone. The tree is immutable;
reloading zones builds a new index and swaps it in whole.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import shapely

from ioc.geo.zones import Zone, ZoneSet

IntArray = npt.NDArray[np.int64]

# Points per grid cell the lookup aims for: fewer cells to query, more points to test exactly.
_POINTS_PER_CELL = 32
# Points whose places an index remembers (ZoneIndex.places): more than a province's sensors.
KNOWN_POINTS = 200_000


@dataclass(frozen=True, slots=True)
class Placement:
    """Where each point of a batch lies. Zones per point are in CSR form: the zones of point i
    are `zone_index[offsets[i]:offsets[i + 1]]`, indices into the index's zones."""

    district: npt.NDArray[np.object_]  # str | None per point
    offsets: IntArray
    zone_index: IntArray
    zones: tuple[Zone, ...]

    def __len__(self) -> int:
        return len(self.district)

    def zones_of(self, i: int) -> list[Zone]:
        lo, hi = self.offsets[i], self.offsets[i + 1]
        return [self.zones[j] for j in self.zone_index[lo:hi]]

    def all_zones(self) -> list[tuple[Zone, ...]]:
        """Every point's zones, as zones_of gives them: for a whole batch, far cheaper than
        asking point by point (numpy indexing per point costs more than the lookup did)."""
        bounds = self.offsets.tolist()
        found = [self.zones[j] for j in self.zone_index.tolist()]
        return [tuple(found[lo:hi]) if hi > lo else () for lo, hi in itertools.pairwise(bounds)]

    def zone_ids(self, i: int) -> list[str]:
        return [z.id for z in self.zones_of(i)]


def _district_rank(zone: Zone) -> int:
    """0: owns nothing; 1: a special zone's district; 10+: ward > district > province."""
    if zone.district is None:
        return 0
    return 10 + zone.admin_rank if zone.admin_rank else 1


class ZoneIndex:
    def __init__(self, zone_set: ZoneSet) -> None:
        self.zone_set = zone_set
        self.zones = zone_set.zones
        self._geometries = np.array([z.geometry for z in self.zones], dtype=object)
        shapely.prepare(self._geometries)
        self._tree = shapely.STRtree(self._geometries)
        # Which zone decides a point's district: the most specific administrative one
        # (ward > district > province); a special zone's district only where no
        # administrative zone with a district covers the point (coarse outlines).
        self._rank = np.array([_district_rank(z) for z in self.zones], dtype=np.int64)
        self._district = np.array([z.district for z in self.zones], dtype=object)
        self._known: dict[tuple[float, float], tuple[str | None, tuple[Zone, ...]]] = {}

    @property
    def version(self) -> str:
        return self.zone_set.version

    def locate(
        self, lat: Sequence[float] | npt.ArrayLike, lon: Sequence[float] | npt.ArrayLike
    ) -> Placement:
        """Place every point (lat[i], lon[i]) at once. A point with a non-finite coordinate
        lies in no zone."""
        lats = np.asarray(lat, dtype=np.float64).reshape(-1)
        lons = np.asarray(lon, dtype=np.float64).reshape(-1)
        if lats.shape != lons.shape:
            raise ValueError(f"{len(lats)} latitudes but {len(lons)} longitudes")
        n = len(lats)
        point_idx, zone_idx = self._pairs(lats, lons)
        # Sorted by point, then zone: one integer key sorts faster than a lexsort.
        order = np.argsort(point_idx * max(len(self.zones), 1) + zone_idx)
        point_idx, zone_idx = point_idx[order], zone_idx[order]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(point_idx, minlength=n), out=offsets[1:])

        district = np.full(n, None, dtype=object)
        if len(point_idx):
            # Each point's best-ranked zone; ties go to the later zone in the file.
            score = self._rank[zone_idx] * len(self.zones) + zone_idx
            placed = np.flatnonzero(offsets[1:] > offsets[:-1])
            best = np.maximum.reduceat(score, offsets[placed])
            best_zone = best % len(self.zones)
            owned = self._rank[best_zone] > 0
            district[placed[owned]] = self._district[best_zone[owned]]
        return Placement(district, offsets, zone_idx, self.zones)

    def _pairs(
        self, lats: npt.NDArray[np.float64], lons: npt.NDArray[np.float64]
    ) -> tuple[IntArray, IntArray]:
        """Every (point, zone) pair where the zone contains the point, unordered.

        Points are binned on a grid sized to the batch, and the tree is queried with the
        occupied cells rather than with the points: building a million point geometries
        costs more than the rest of the lookup. A cell inside a zone puts all its points in
        that zone without an exact test; only points in cells on a zone's edge are tested,
        vectorised, against the prepared polygon. intersects, not contains: a point on a
        shared boundary is in both zones, so nothing falls between two districts.
        """
        finite = np.flatnonzero(np.isfinite(lats) & np.isfinite(lons))
        if len(finite) < len(lats):
            point_idx, zone_idx = self._pairs(lats[finite], lons[finite])
            return finite[point_idx], zone_idx
        n = len(lats)
        if n == 0 or len(self.zones) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        x0, y0 = float(lons.min()), float(lats.min())
        width = max(float(lons.max()) - x0, 1e-9)
        height = max(float(lats.max()) - y0, 1e-9)
        cells_wanted = max(1, n // _POINTS_PER_CELL)
        # The second bound keeps the grid at most ~3x cells_wanted for long thin batches.
        size = max((width * height / cells_wanted) ** 0.5, max(width, height) / cells_wanted)
        ny = int(height // size) + 1
        cell = ((lons - x0) // size).astype(np.int64) * ny + ((lats - y0) // size).astype(np.int64)
        counts = np.bincount(cell)
        starts = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        by_cell = np.argsort(cell, kind="stable")
        occupied = np.flatnonzero(counts)
        cx, cy = occupied // ny, occupied % ny
        # A hair wider than the cell, so float rounding at its edges cannot leave a point out.
        pad = size * 1e-9
        boxes = shapely.box(
            x0 + cx * size - pad,
            y0 + cy * size - pad,
            x0 + (cx + 1) * size + pad,
            y0 + (cy + 1) * size + pad,
        )
        box_idx, zone_idx = self._tree.query(boxes)
        whole = shapely.contains(self._geometries[zone_idx], boxes[box_idx])
        # Expand (cell, zone) pairs into (point, zone) pairs.
        cells = occupied[box_idx]
        per_pair = counts[cells]
        pair = np.repeat(np.arange(len(cells)), per_pair)
        first = np.cumsum(per_pair) - per_pair
        point_idx = by_cell[starts[cells][pair] + np.arange(len(pair)) - first[pair]]
        zone_idx = zone_idx[pair]
        hit = whole[pair]
        edge = np.flatnonzero(~hit)
        hit[edge] = shapely.intersects_xy(
            self._geometries[zone_idx[edge]], lons[point_idx[edge]], lats[point_idx[edge]]
        )
        return point_idx[hit].astype(np.int64), zone_idx[hit].astype(np.int64)

    def places(
        self, points: Sequence[tuple[float, float]]
    ) -> list[tuple[str | None, tuple[Zone, ...]]]:
        """(district, zones) of each (lat, lon), as `locate` finds them, remembered by point:
        most sensors do not move, and a province's stations send the same coordinates all day.
        Only the points not seen before are looked up, in one batch."""
        known = self._known
        new = list(dict.fromkeys(p for p in points if p not in known))
        if len(known) + len(new) > KNOWN_POINTS:
            known.clear()  # moving sensors: start again rather than grow without bound
            new = list(dict.fromkeys(points))
        if new:
            placement = self.locate([p[0] for p in new], [p[1] for p in new])
            for point, district, zones in zip(
                new, placement.district.tolist(), placement.all_zones(), strict=True
            ):
                known[point] = (district, zones)
        # A NaN is not equal to itself: such a point is not found again, it is looked up.
        return [known.get(p) or self._place_one(*p) for p in points]

    def _place_one(self, lat: float, lon: float) -> tuple[str | None, tuple[Zone, ...]]:
        district, zones = self.locate_one(lat, lon)
        return district, tuple(zones)

    def locate_one(self, lat: float, lon: float) -> tuple[str | None, list[Zone]]:
        placement = self.locate([lat], [lon])
        owner = placement.district[0]
        return (str(owner) if owner is not None else None), placement.zones_of(0)

    def active_zones(self, zones: Sequence[Zone], when: datetime) -> list[Zone]:
        return [z for z in zones if z.active_at(when)]
