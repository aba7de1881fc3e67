#!/bin/bash
# Kafka's own kafka-topics.sh: runs org.apache.kafka.tools.TopicCommand with the jars in ../libs.
exec "$(dirname "${BASH_SOURCE[0]}")/kafka-run-class.sh" org.apache.kafka.tools.TopicCommand "$@"
