"""What the tests share: waiting on another process, the test Kafka client, the processes a
test starts (workers, bridges, consoles), the demo scenario and its expected incidents, and
builders of alerts, incidents and zones. Tests import from here, never from one another."""
