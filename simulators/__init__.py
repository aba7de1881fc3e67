"""Sensor simulators (traffic, security cameras, environment stations), published with
kafka-python, deterministic for a given seed, scenario and start time."""
