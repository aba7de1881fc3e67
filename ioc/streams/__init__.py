"""The Faust application: agents that are thin adapters around the pure core (ioc.*)."""
