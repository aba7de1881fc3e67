#!/bin/bash
# Who may do what on the cluster (run once by the kafka-acls job, as the admin user; adding an
# ACL that exists is harmless, so the job can run again).
#   worker     everything on ioc's topics and groups (it creates Faust's own topics, ioc-*)
#   operator   reads every ioc topic; writes commands (ack, resolve), rules and zones
#   simulator  writes the sensor topics only (and sees that the others exist)
#   district-X reads ioc.incidents.X only, in consumer groups named ioc-subscribe-X
# Topic names assume IOC_TOPIC_PREFIX is empty and IOC_APP_ID is "ioc" (docker-compose.yml).
set -euo pipefail
: "${KAFKA_ADMIN_PASSWORD:?}"
bootstrap=${KAFKA_BOOTSTRAP:-kafka:9092}
admin=/tmp/admin.properties
cat > "$admin" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
PROPS
acl() { /opt/kafka/bin/kafka-acls.sh --bootstrap-server "$bootstrap" --command-config "$admin" --add "$@"; }

for prefix in sensors. ioc. ioc-; do
  acl --allow-principal User:worker --operation All --topic "$prefix" --resource-pattern-type prefixed
  acl --allow-principal User:operator --operation Read --operation Describe --topic "$prefix" --resource-pattern-type prefixed
done
acl --allow-principal User:worker --operation All --group ioc --resource-pattern-type prefixed
acl --allow-principal User:worker --operation Describe --operation Create --cluster
for topic in ioc.commands ioc.rules ioc.zones; do
  acl --allow-principal User:operator --operation Write --topic "$topic"
done
acl --allow-principal User:operator --operation Read --group ioc-operator --resource-pattern-type prefixed
acl --allow-principal User:simulator --operation Write --operation Describe --topic sensors. --resource-pattern-type prefixed
# `ioc simulate` checks that every ioc topic exists before it publishes: it must see them.
acl --allow-principal User:simulator --operation Describe --topic ioc. --resource-pattern-type prefixed

for district in da-lat bao-loc lac-duong da-teh bao-lam dam-rong duc-trong; do
  acl --allow-principal "User:district-${district}" --operation Read --operation Describe --topic "ioc.incidents.${district}"
  acl --allow-principal "User:district-${district}" --operation Read --group "ioc-subscribe-${district}"
done
echo "ACLs in place"
