"""A cluster is servers and security together: every client built from one gets both, and
two clusters in one process keep their own (nothing is process-wide)."""

from __future__ import annotations

from ioc.kafka.cluster import Cluster
from ioc.kafka.security import KafkaSecurity
from ioc.settings import Settings


def test_servers_come_one_by_one_or_comma_separated() -> None:
    assert Cluster.at("a:1,b:2", " c:3 ").servers == ("a:1", "b:2", "c:3")
    assert Cluster.at("a:1").urls == "kafka://a:1"
    assert Cluster.at("a:1", "b:2").bootstrap == "a:1,b:2"


def test_each_client_library_gets_the_servers_and_the_clusters_own_security() -> None:
    plain = Cluster.at("a:1")
    scram = Cluster(("b:2",), KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", "worker", "pw"))
    assert plain.aiokafka() == {"bootstrap_servers": ["a:1"]}
    assert plain.kafka_python() == {"bootstrap_servers": ["a:1"]}
    assert plain.librdkafka() == {"bootstrap.servers": "a:1"}
    assert scram.aiokafka() == {
        "bootstrap_servers": ["b:2"],
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "worker",
        "sasl_plain_password": "pw",
    }
    assert scram.librdkafka()["sasl.username"] == "worker"
    assert plain.aiokafka() == {"bootstrap_servers": ["a:1"]}  # untouched by the other


def test_of_takes_the_security_the_settings_say() -> None:
    settings = Settings(
        security_protocol="SASL_PLAINTEXT", sasl_username="district-da-lat", sasl_password="x"
    )
    cluster = Cluster.of(["h:9092"], settings)
    assert cluster.servers == ("h:9092",)
    assert cluster.security == KafkaSecurity.from_settings(settings)
    assert cluster.kafka_python()["sasl_plain_username"] == "district-da-lat"
