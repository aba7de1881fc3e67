#!/bin/bash
# Who may do what on the cluster (run once by the kafka-acls job, as the admin user; adding an
# ACL that exists is harmless, so the job can run again).
#   worker     everything on ioc's topics and groups (it creates Faust's own topics, ioc-*)
#   operator   reads every ioc topic; writes commands (ack, resolve), rules, zones, devices
#   simulator  writes the sensor topics only (and sees that the others exist)
#   bridge     writes the sensor topics and dead letters, reads the device registry
#   district-X reads ioc.incidents.X only, in consumer groups named ioc-subscribe-X
# Read and Write imply Describe. Topic names assume IOC_TOPIC_PREFIX is empty and IOC_APP_ID
# starts with "ioc" (docker-compose.yml). The test suite runs this script against the broker
# of deploy/kafka/start.sh (tests/integration/kafka/test_acls.py).
set -euo pipefail
: "${KAFKA_ADMIN_PASSWORD:?}"
home=${KAFKA_HOME:-/opt/kafka}
bootstrap=${KAFKA_BOOTSTRAP:-kafka:9092}
admin=$(mktemp)
trap 'rm -f "$admin"' EXIT
cat > "$admin" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
PROPS
# Each kafka-acls.sh call is a JVM of its own: started for speed, not for a long life, and a
# few at a time (ACL_PARALLEL), which takes the job from about 40 s to about 10 on two cores.
export KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto}
parallel=${ACL_PARALLEL:-4}
pids=()
acl() {
  if (( ${#pids[@]} >= parallel )); then wait -n || true; fi  # each status is read at the end
  "$home/bin/kafka-acls.sh" --bootstrap-server "$bootstrap" --command-config "$admin" --add "$@" >/dev/null &
  pids+=($!)
}
prefixed=(--resource-pattern-type prefixed)
prefixes=(sensors. ioc. ioc-)  # every topic ioc makes, and Faust's own (named after the app id)
topics=()
for prefix in "${prefixes[@]}"; do topics+=(--topic "$prefix"); done

acl --allow-principal User:worker --operation All "${topics[@]}" --group ioc "${prefixed[@]}"
acl --allow-principal User:worker --operation Describe --operation Create --cluster
acl --allow-principal User:operator --operation Read "${topics[@]}" "${prefixed[@]}"
acl --allow-principal User:operator --operation Write --topic ioc.commands --topic ioc.rules --topic ioc.zones \
    --topic ioc.devices
acl --allow-principal User:operator --operation Read --group ioc-operator "${prefixed[@]}"
acl --allow-principal User:simulator --operation Write --topic sensors. "${prefixed[@]}"
# `ioc simulate` checks that every ioc topic exists before it publishes: it must see them.
acl --allow-principal User:simulator --operation Describe --topic ioc. "${prefixed[@]}"
# The MQTT and HTTP bridges: what devices send, the dead letters of what cannot be forwarded,
# the registry they follow (read without a consumer group), and the topics' existence.
acl --allow-principal User:bridge --operation Write --topic sensors. "${prefixed[@]}"
acl --allow-principal User:bridge --operation Write --topic ioc.deadletter
acl --allow-principal User:bridge --operation Read --topic ioc.devices
acl --allow-principal User:bridge --operation Describe --topic ioc. "${prefixed[@]}"

for district in da-lat bao-loc lac-duong da-teh bao-lam dam-rong duc-trong; do
  acl --allow-principal "User:district-${district}" --operation Read \
      --topic "ioc.incidents.${district}" --group "ioc-subscribe-${district}"
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
if (( failed )); then
  echo "$failed of ${#pids[@]} kafka-acls.sh calls failed (their errors are above)" >&2
  exit 1
fi
echo "ACLs in place"
