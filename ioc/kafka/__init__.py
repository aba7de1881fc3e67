"""Everything ioc knows about Kafka itself: the cluster a process connects to and how it
authenticates (`cluster`, `security`), the topics and their contracts (`topics`), creating and
inspecting them (`admin`), and the embedded broker for one machine (`embedded`)."""
