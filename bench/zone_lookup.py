"""ZoneIndex lookups per second, against a per-point Shapely loop measured in the same run.

    python -m bench.zone_lookup [--points 1000000] [--loop-sample 20000]

Two zone sets: the default Lâm Đồng zones shipped with ioc, and 1 000 generated polygons
(irregular, 12–40 vertices, overlapping) over the same area. The baseline is what one writes
first: for each point, `tree.query(point, predicate="intersects")` on the same STRtree of
prepared polygons. It is timed on a sample and reported per point, so the ratio is like for
like. Each path is timed best of --repeat runs: the machine is shared, and the best run is
the one least disturbed by others.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import orjson
import shapely

from bench.common import write_result
from ioc.geo import ZoneIndex, ZoneSet, default_zones, parse_zones

BBOX = (107.2, 11.2, 108.8, 12.4)  # lon, lat: the province and a margin


def generated_zones(count: int, seed: int = 42) -> ZoneSet:
    rng = np.random.default_rng(seed)
    features = []
    for i in range(count):
        cx, cy = rng.uniform(BBOX[0], BBOX[2]), rng.uniform(BBOX[1], BBOX[3])
        n = int(rng.integers(12, 41))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(0.005, 0.04, n)
        ring = [
            [float(cx + r * np.cos(a)), float(cy + r * np.sin(a))]
            for a, r in zip(angles, radii, strict=True)
        ]
        ring.append(ring[0])
        features.append(
            {
                "type": "Feature",
                "id": f"gen-{i}",
                "properties": {"kind": "other", "name": f"Vùng {i}", "district": None},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    data = orjson.dumps({"type": "FeatureCollection", "features": features})
    return parse_zones(data, f"{count} generated polygons")


def _points(n: int, seed: int = 1) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    return rng.uniform(BBOX[1], BBOX[3], n), rng.uniform(BBOX[0], BBOX[2], n)


def measure(zone_set: ZoneSet, points: int, loop_sample: int, repeat: int) -> dict[str, Any]:
    index = ZoneIndex(zone_set)
    lats, lons = _points(points)
    vectorised = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        placement = index.locate(lats, lons)
        vectorised = min(vectorised, time.perf_counter() - started)

    geometries = np.array([z.geometry for z in zone_set.zones], dtype=object)
    shapely.prepare(geometries)
    tree = shapely.STRtree(geometries)
    sample = [
        shapely.Point(lon, lat)
        for lat, lon in zip(lats[:loop_sample], lons[:loop_sample], strict=True)
    ]
    loop = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        hits = 0
        for point in sample:
            hits += len(tree.query(point, predicate="intersects"))
        loop = min(loop, time.perf_counter() - started)

    # The two paths must agree, or the comparison means nothing.
    assert hits == int(placement.offsets[loop_sample]), "vectorised and loop results differ"
    vec_rate, loop_rate = points / vectorised, loop_sample / loop
    return {
        "zones": len(zone_set),
        "vertices": int(sum(z.vertices for z in zone_set.zones)),
        "points": points,
        "vectorised_points_per_s": round(vec_rate),
        "loop_points_per_s": round(loop_rate),
        "loop_sample": loop_sample,
        "repeat": repeat,
        "speedup": round(vec_rate / loop_rate, 2),
        "points_in_some_zone": int((np.diff(placement.offsets) > 0).sum()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.zone_lookup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--loop-sample", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs, each path")
    args = parser.parse_args(argv)
    results = {
        "default zones": measure(default_zones(), args.points, args.loop_sample, args.repeat),
        "1000 generated polygons": measure(
            generated_zones(1000), args.points, args.loop_sample, args.repeat
        ),
    }
    print(
        f"{'zone set':<26} {'zones':>6} {'vectorised pts/s':>17} {'loop pts/s':>11} {'speedup':>8}"
    )
    for name, r in results.items():
        print(
            f"{name:<26} {r['zones']:>6} {r['vectorised_points_per_s']:>17,} "
            f"{r['loop_points_per_s']:>11,} {r['speedup']:>7}x"
        )
    path = write_result("zone-lookup", {"results": results})
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
