#!/bin/bash
# Runs one Kafka class with every jar of ../libs on the class path: the part of Kafka's own
# kafka-run-class.sh that the deployment's scripts (deploy/kafka/*.sh) need, for a Kafka
# assembled from Maven Central's jars rather than unpacked from a release tarball.
set -euo pipefail
home=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
class=$1
shift
# shellcheck disable=SC2086  # the options are lists of words, as in Kafka's own script
exec "${JAVA:-java}" ${KAFKA_HEAP_OPTS:--Xmx256m} ${KAFKA_JVM_PERFORMANCE_OPTS:-} ${KAFKA_OPTS:-} \
  "-Dlog4j2.configurationFile=${KAFKA_LOG4J_CONFIG:-$home/config/log4j2.properties}" \
  -cp "$home/libs/*" "$class" "$@"
