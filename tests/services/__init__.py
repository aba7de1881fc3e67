"""The servers the test suite starts for itself: Apache Kafka (KRaft), PostgreSQL and Mosquitto,
each on free loopback ports in a temporary directory, stopped when the session ends, and by
the kernel if the test run dies first (also by SIGKILL). The embedded broker is
`ioc.kafka.embedded`.

Where their programs come from: `scripts/install-test-deps.sh` installs Debian's
`postgresql`, `mosquitto`, `mosquitto-clients` and `kcat` and a Java runtime, and calls
`scripts/fetch-kafka.sh`, which assembles Apache Kafka from Maven Central into
`~/.cache/ioc/kafka-<version>` (or `$IOC_TEST_KAFKA_HOME`). A test whose server is missing
skips, naming that script; in CI (`CI=true`) it fails.
"""
