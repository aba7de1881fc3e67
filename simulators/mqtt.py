"""Publishing a scenario's messages over MQTT, QoS 1, as a fleet of devices sends them to
`ioc bridge mqtt`: each source on `lamdong/{district}/{kind}/{source_id}`.

paho-mqtt keeps what it has not had acknowledged and sends it again after a reconnect; `close`
waits until the broker has acknowledged everything sent, or says how much it has not.
"""

from __future__ import annotations

import ssl
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from ioc.bridge.mqtt import MqttUrl
from ioc.bridge.routing import PROVINCE
from ioc.districts import DISTRICT_SLUGS
from simulators.publish import PublishError


def mqtt_topic(kind: str, source_id: str, area: str) -> str:
    district = area if area in DISTRICT_SLUGS else PROVINCE
    return f"lamdong/{district}/{kind}/{source_id}"


class MqttPublisher:
    def __init__(
        self,
        url: MqttUrl,
        client_id: str,
        *,
        username: str | None = None,
        password: str | None = None,
        cafile: Path | None = None,
        connect_timeout: float = 30.0,
        max_in_flight: int = 1000,
    ) -> None:
        self.url = url
        self.sent = 0
        self.acked = 0
        self.changed = threading.Condition()
        self.connected = threading.Event()
        self.refused: str | None = None
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        self.client.max_inflight_messages_set(max_in_flight)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        if username:
            self.client.username_pw_set(username, password)
        if url.tls:
            self.client.tls_set_context(ssl.create_default_context(cafile=cafile))
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        try:
            self.client.connect(url.host, url.port)
        except OSError as exc:
            raise PublishError(f"MQTT broker {url} unreachable: {exc.strerror or exc}") from None
        self.client.loop_start()
        if not self.connected.wait(connect_timeout) or self.refused:
            self.client.loop_stop()
            raise PublishError(
                f"MQTT broker {url} refused the connection: {self.refused}"
                if self.refused
                else f"MQTT broker {url} did not answer within {connect_timeout:g} s"
            )

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        if reason.is_failure:
            self.refused = str(reason)
        self.connected.set()

    def _on_publish(self, *_: Any) -> None:
        with self.changed:
            self.acked += 1
            self.changed.notify_all()

    def send(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)
        self.sent += 1

    def close(self, timeout: float = 60.0) -> None:
        """Once the broker has acknowledged every message sent (PublishError after `timeout`
        seconds without it), disconnect."""
        try:
            with self.changed:
                if not self.changed.wait_for(lambda: self.acked >= self.sent, timeout=timeout):
                    raise PublishError(
                        f"MQTT broker {self.url} acknowledged {self.acked:,} of {self.sent:,} "
                        f"messages within {timeout:g} s"
                    )
        finally:
            self.client.disconnect()
            self.client.loop_stop()
