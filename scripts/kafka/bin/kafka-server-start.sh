#!/bin/bash
# Kafka's own kafka-server-start.sh: runs kafka.Kafka with the jars in ../libs.
exec "$(dirname "${BASH_SOURCE[0]}")/kafka-run-class.sh" kafka.Kafka "$@"
