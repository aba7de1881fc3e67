"""Incident sinks: the store, files, feeds, the district topics and webhooks. Which one a URL
names is `ioc.sinks.registry`'s."""
