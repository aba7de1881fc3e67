"""ioc: the event-stream processor of a provincial Intelligent Operations Centre.

Sensor readings arrive on Kafka topics; Faust agents validate them, place them on the map,
evaluate alert rules and turn alerts into incidents that sinks deliver to the provincial IOC
and to each district IOC.
"""

__version__ = "0.1.0"
