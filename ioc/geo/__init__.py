"""Geography: zones from GeoJSON and the vectorised geofence index."""

from ioc.geo.index import Placement, ZoneIndex
from ioc.geo.schedule import Schedule
from ioc.geo.zones import Zone, ZoneSet, ZoneSetError, default_zones, load_zones, parse_zones

__all__ = [
    "Placement",
    "Schedule",
    "Zone",
    "ZoneIndex",
    "ZoneSet",
    "ZoneSetError",
    "default_zones",
    "load_zones",
    "parse_zones",
]
