"""`ioc console`: the operators' web map, its HTTP API and live events, with role-based access.

A process of its own, separate from the workers, any number of replicas: it reads the incident
store, follows `ioc.incidents` and `ioc.sensors` without a consumer group, and sends operators'
actions as commands on `ioc.commands`, which the worker that holds the incident applies.
"""
