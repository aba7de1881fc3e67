"""Incidents: what operators act on, built from alerts (docs/sinks-and-feeds.md)."""
