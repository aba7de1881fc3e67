"""Incident sinks: one contract, one implementation per file, chosen by URL scheme."""
