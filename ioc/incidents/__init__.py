"""Incidents: what operators act on, built from alerts (DESIGN.md §6)."""
