"""Webhook delivery in one place: the sink that POSTs each incident version (sink.py) and
the worker stage that retries parked deliveries when they are due (retry.py)."""
