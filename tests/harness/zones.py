"""Zone files to test with: features, collections and boxes."""

from __future__ import annotations

import json
from typing import Any

SQUARE = [[[108.0, 11.0], [108.2, 11.0], [108.2, 11.2], [108.0, 11.2], [108.0, 11.0]]]


def feature(
    fid: str, kind: str = "district", district: str | None = "da-lat", **props: Any
) -> dict[str, Any]:
    geometry = props.pop("geometry", {"type": "Polygon", "coordinates": SQUARE})
    return {
        "type": "Feature",
        "id": fid,
        "properties": {"kind": kind, "name": f"Vùng {fid}", "district": district, **props},
        "geometry": geometry,
    }


def collection(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}
