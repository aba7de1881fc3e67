#!/bin/bash
# Kafka's own kafka-console-consumer.sh: runs org.apache.kafka.tools.consumer.ConsoleConsumer with the jars in ../libs.
exec "$(dirname "${BASH_SOURCE[0]}")/kafka-run-class.sh" org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
