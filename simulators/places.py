"""Where the simulated sensors stand: real roads and towns of Lâm Đồng.

Road courses are coarse polylines through real towns and passes (lat, lon), good to a few
hundred metres: enough that a counting station on "QL20 – đèo Prenn" lies on the pass and in
the right district IOC area. Towns carry their altitude, which sets the temperature.
"""

from __future__ import annotations

from dataclasses import dataclass

from ioc.geo.distance import distance_m, offset_m


@dataclass(frozen=True, slots=True)
class Road:
    id: str
    name: str
    points: tuple[tuple[float, float], ...]  # (lat, lon) along the road
    speed_limit_kmh: float
    peak_flow_vph: float  # vehicles per hour, both directions, at the morning peak
    lanes: int = 2

    @property
    def length_m(self) -> float:
        return sum(distance_m(a, b) for a, b in zip(self.points, self.points[1:], strict=False))

    def at(self, fraction: float) -> tuple[float, float]:
        """The point at `fraction` (0..1) of the road's length."""
        fraction = min(max(fraction, 0.0), 1.0)
        legs = [distance_m(a, b) for a, b in zip(self.points, self.points[1:], strict=False)]
        remaining = fraction * sum(legs)
        for (a, b), leg in zip(zip(self.points, self.points[1:], strict=False), legs, strict=True):
            if remaining <= leg and leg > 0:
                t = remaining / leg
                return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
            remaining -= leg
        return self.points[-1]


@dataclass(frozen=True, slots=True)
class Town:
    name: str
    area: str  # district IOC slug, or "rest"
    lat: float
    lon: float
    altitude_m: float
    busy: bool = False  # a market, a square: crowds on camera by day


ROADS: tuple[Road, ...] = (
    Road(
        "ql20-prenn",
        "QL20 – đèo Prenn",
        (
            (11.9335, 108.4445),
            (11.9150, 108.4560),
            (11.8950, 108.4680),
            (11.8700, 108.4700),
            (11.8400, 108.4550),
            (11.8000, 108.4200),
            (11.7350, 108.3730),
        ),
        speed_limit_kmh=50,
        peak_flow_vph=1400,
    ),
    Road(
        "ql20-di-linh",
        "QL20 Liên Nghĩa – Di Linh – Bảo Lộc",
        (
            (11.7350, 108.3730),
            (11.6500, 108.2200),
            (11.5780, 108.0710),
            (11.5600, 107.9500),
            (11.5475, 107.8073),
        ),
        speed_limit_kmh=70,
        peak_flow_vph=900,
    ),
    Road(
        "ql20-deo-bao-loc",
        "QL20 – đèo Bảo Lộc",
        (
            (11.5475, 107.8073),
            (11.5300, 107.7800),
            (11.5150, 107.7500),
            (11.5000, 107.7300),
            (11.4700, 107.7000),
            (11.4400, 107.6600),
            (11.4000, 107.5400),
        ),
        speed_limit_kmh=40,
        peak_flow_vph=1100,
    ),
    Road(
        "ql27-don-duong",
        "QL27 Liên Nghĩa – Đơn Dương",
        ((11.7350, 108.3730), (11.7500, 108.4300), (11.7600, 108.4900), (11.8000, 108.6200)),
        speed_limit_kmh=60,
        peak_flow_vph=600,
    ),
    Road(
        "ql27-lam-ha",
        "QL27 Liên Nghĩa – Nam Ban – Đinh Văn",
        ((11.7350, 108.3730), (11.7700, 108.3500), (11.8400, 108.3200), (11.8000, 108.2400)),
        speed_limit_kmh=60,
        peak_flow_vph=500,
    ),
    Road(
        "ql55-bao-lam",
        "QL55 Bảo Lộc – Lộc Thắng",
        ((11.5475, 107.8073), (11.5850, 107.8200), (11.6200, 107.8200), (11.7000, 107.9000)),
        speed_limit_kmh=60,
        peak_flow_vph=450,
    ),
    Road(
        "dt721-da-teh",
        "ĐT721 Madagui – Đạ Tẻh – Cát Tiên",
        ((11.4000, 107.5400), (11.4600, 107.5100), (11.5100, 107.4900), (11.5800, 107.3600)),
        speed_limit_kmh=60,
        peak_flow_vph=350,
    ),
    Road(
        "dt723-lac-duong",
        "ĐT723 Đà Lạt – Lạc Dương",
        ((11.9600, 108.4400), (11.9850, 108.4300), (12.0050, 108.4200)),
        speed_limit_kmh=50,
        peak_flow_vph=500,
    ),
    Road(
        "dt722-dam-rong",
        "ĐT722 Lạc Dương – Đam Rông",
        ((12.0050, 108.4200), (12.0500, 108.3000), (12.0800, 108.1700)),
        speed_limit_kmh=50,
        peak_flow_vph=200,
    ),
    Road(
        "da-lat-centre",
        "Trung tâm Đà Lạt (Trần Hưng Đạo – Nguyễn Thị Minh Khai – Phan Bội Châu)",
        (
            (11.9365, 108.4420),
            (11.9425, 108.4370),
            (11.9455, 108.4460),
            (11.9400, 108.4500),
            (11.9365, 108.4420),
        ),
        speed_limit_kmh=40,
        peak_flow_vph=1800,
        lanes=4,
    ),
)

TOWNS: tuple[Town, ...] = (
    Town("Chợ Đà Lạt", "da-lat", 11.9430, 108.4370, 1500, busy=True),
    Town("Quảng trường Lâm Viên", "da-lat", 11.9375, 108.4470, 1490, busy=True),
    Town("Thái Phiên", "da-lat", 11.9750, 108.4450, 1560),
    Town("Cam Ly", "da-lat", 11.9350, 108.4200, 1470),
    Town("Trại Mát", "da-lat", 11.9450, 108.4850, 1450),
    Town("Trung tâm Bảo Lộc", "bao-loc", 11.5475, 107.8073, 850, busy=True),
    Town("B'Lao", "bao-loc", 11.5600, 107.7900, 860),
    Town("Lộc Phát", "bao-loc", 11.5750, 107.8200, 870),
    Town("Liên Nghĩa", "duc-trong", 11.7350, 108.3730, 950, busy=True),
    Town("Hiệp Thạnh", "duc-trong", 11.7700, 108.3700, 960),
    Town("Lạc Dương", "lac-duong", 12.0050, 108.4200, 1400),
    Town("Đạ Tẻh", "da-teh", 11.5100, 107.4900, 150, busy=True),
    Town("Lộc Thắng", "bao-lam", 11.6200, 107.8200, 900),
    Town("Rô Men", "dam-rong", 12.0800, 108.1700, 700),
    Town("Di Linh", "rest", 11.5780, 108.0710, 1000, busy=True),
    Town("Đinh Văn", "rest", 11.8000, 108.2400, 950),
    Town("Thạnh Mỹ", "rest", 11.7600, 108.4900, 1000),
)


def road(road_id: str) -> Road:
    for r in ROADS:
        if r.id == road_id:
            return r
    raise KeyError(road_id)


__all__ = ["ROADS", "TOWNS", "Road", "Town", "distance_m", "nearest_town", "offset_m", "road"]


def nearest_town(point: tuple[float, float]) -> Town:
    return min(TOWNS, key=lambda t: distance_m(point, (t.lat, t.lon)))
