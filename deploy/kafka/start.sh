#!/bin/bash
# Apache Kafka in KRaft mode, one node, with SASL/SCRAM users created when its storage is
# formatted (KRaft keeps SCRAM credentials in its metadata log; --ignore-formatted makes a
# restart keep them). Passwords come from the environment (.env), never from this file.
# The defaults are those of the compose file's container; the test suite runs this same script
# on loopback ports in a temporary directory (tests/integration/kafka/test_acls.py).
set -euo pipefail
: "${KAFKA_ADMIN_PASSWORD:?}" "${IOC_WORKER_PASSWORD:?}" "${IOC_OPERATOR_PASSWORD:?}"
: "${IOC_SIMULATOR_PASSWORD:?}" "${IOC_BRIDGE_PASSWORD:?}" "${KAFKA_CLUSTER_ID:?}"
home=${KAFKA_HOME:-/opt/kafka}
config=${KAFKA_CONFIG_FILE:-/tmp/server.properties}
data=${KAFKA_DATA_DIR:-/var/lib/kafka/data}
listen=${KAFKA_LISTEN_HOST:-}               # empty: every interface
internal=${KAFKA_INTERNAL_HOST:-kafka}      # the name the other services reach it by
client_port=${KAFKA_CLIENT_PORT:-9092}
controller_port=${KAFKA_CONTROLLER_PORT:-9093}
public_port=${KAFKA_PUBLIC_PORT:-9094}

scram=(--add-scram "SCRAM-SHA-512=[name=admin,password=${KAFKA_ADMIN_PASSWORD}]"
       --add-scram "SCRAM-SHA-512=[name=worker,password=${IOC_WORKER_PASSWORD}]"
       --add-scram "SCRAM-SHA-512=[name=operator,password=${IOC_OPERATOR_PASSWORD}]"
       --add-scram "SCRAM-SHA-512=[name=simulator,password=${IOC_SIMULATOR_PASSWORD}]"
       --add-scram "SCRAM-SHA-512=[name=bridge,password=${IOC_BRIDGE_PASSWORD}]")
for district in da-lat bao-loc lac-duong da-teh bao-lam dam-rong duc-trong; do
  var="DISTRICT_$(echo "$district" | tr 'a-z-' 'A-Z_')_PASSWORD"
  scram+=(--add-scram "SCRAM-SHA-512=[name=district-${district},password=${!var:?$var is not set}]")
done

cat > "$config" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${listen:-localhost}:${controller_port}
listeners=CLIENT://${listen}:${client_port},CONTROLLER://${listen:-localhost}:${controller_port},DISTRICTS://${listen}:${public_port}
advertised.listeners=CLIENT://${internal}:${client_port},DISTRICTS://${KAFKA_PUBLIC_HOST:-localhost}:${public_port}
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT,DISTRICTS:SASL_PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=CLIENT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
listener.name.districts.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:ANONYMOUS
auto.create.topics.enable=false
log.dirs=${data}
num.partitions=12
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
PROPS
"$home/bin/kafka-storage.sh" format --ignore-formatted -t "$KAFKA_CLUSTER_ID" -c "$config" "${scram[@]}"
exec "$home/bin/kafka-server-start.sh" "$config"
