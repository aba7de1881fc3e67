"""Incidents: what operators act on, built from alerts (README: Incidents, sinks and feeds)."""
