#!/bin/bash
# Kafka's own kafka-console-producer.sh: runs org.apache.kafka.tools.ConsoleProducer with the jars in ../libs.
exec "$(dirname "${BASH_SOURCE[0]}")/kafka-run-class.sh" org.apache.kafka.tools.ConsoleProducer "$@"
