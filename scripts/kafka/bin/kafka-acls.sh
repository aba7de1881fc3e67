#!/bin/bash
# Kafka's own kafka-acls.sh: runs org.apache.kafka.tools.AclCommand with the jars in ../libs.
exec "$(dirname "${BASH_SOURCE[0]}")/kafka-run-class.sh" org.apache.kafka.tools.AclCommand "$@"
