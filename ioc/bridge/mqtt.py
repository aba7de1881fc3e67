"""`ioc bridge mqtt`: MQTT → Kafka, acknowledging each message only once Kafka has it.

paho-mqtt 2 is the client: it is the only Python client that lets the application send the
PUBACK itself (`manual_ack`), and it reconnects with backoff on its own; it reads its socket
through `ioc.bridge.paho_reads`. Its network loop runs in a thread; Kafka's answers arrive on
the forwarder's delivery-report thread, which acknowledges.

- **Persistent session**: a fixed client id and no clean start (MQTT 5: a session that
  outlives the connection). What was received and not acknowledged when the bridge died is
  sent again by the broker when it comes back: nothing is lost, a few messages may arrive
  twice (the workers apply a reading once).
- **Bounded**: at most `receive_maximum` messages are between the broker and Kafka. MQTT 5
  tells the broker so (Receive Maximum); with 3.1.1 the network thread waits for room, and the
  broker's TCP window fills. A slow Kafka slows the devices down; memory stays flat.
- **Shared**: replicas subscribe as one group (`$share/GROUP/…`): each message goes to one.
- **Kafka gone**: a send that fails for good (after the delivery timeout) is not acknowledged;
  once Kafka answers again the bridge reconnects to MQTT so that the broker resends it.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ioc.bridge.forward import Forwarder, Origin, now
from ioc.bridge.metrics import BridgeMetrics
from ioc.bridge.paho_reads import BufferedClient, shown_topic
from ioc.bridge.routing import Routed, Router, Template

log = logging.getLogger("ioc.bridge.mqtt")
SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps an absent bridge's messages a week


class MqttUrlError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class MqttUrl:
    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> MqttUrl:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise MqttUrlError(f"{url}: an MQTT URL is mqtt://HOST:PORT or mqtts://HOST:PORT")
        if not parts.hostname:
            raise MqttUrlError(f"{url}: no host")
        if parts.username or parts.password:
            raise MqttUrlError(
                f"{parts.scheme}://{parts.hostname}: put the user and password in "
                "IOC_MQTT_USERNAME and IOC_MQTT_PASSWORD, not in the URL"
            )
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise MqttUrlError(f"{url}: {exc}") from None
        return cls(parts.hostname, port, tls)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class MqttOptions:
    url: MqttUrl
    client_id: str
    group: str | None  # shared subscription group; None: a plain subscription
    receive_maximum: int
    protocol: str  # "5" or "3.1.1"
    username: str | None = None
    password: str | None = None
    cafile: Path | None = None
    keepalive: int = 30


class MqttBridge:
    def __init__(
        self,
        options: MqttOptions,
        templates: tuple[Template, ...],
        router: Router,
        forwarder: Forwarder,
        metrics: BridgeMetrics,
    ) -> None:
        self.options = options
        self.templates = templates
        self.router = router
        self.forwarder = forwarder
        self.metrics = metrics
        # Each message counts three times: the labelled children once, not a lookup each.
        self._received = metrics.received.labels("mqtt")
        self._forwarded = metrics.forwarded.labels("mqtt")
        self._acknowledged = metrics.acknowledged.labels("mqtt")
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._slots = threading.BoundedSemaphore(options.receive_maximum)
        self._resend_wanted = threading.Event()
        self._connections = 0
        self._stopping = False
        self.client = self._client()

    # --- the paho client ---------------------------------------------------------------

    def _client(self) -> paho.Client:
        v5 = self.options.protocol == "5"
        client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=self.options.client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
            reconnect_on_failure=True,
        )
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        # paho's own queue of outgoing messages: the bridge publishes nothing but PUBACKs.
        client.max_inflight_messages_set(self.options.receive_maximum)
        if self.options.username is not None:
            client.username_pw_set(self.options.username, self.options.password)
        if self.options.url.tls:
            client.tls_set(
                ca_certs=str(self.options.cafile) if self.options.cafile else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def start(self) -> None:
        properties = None
        if self.options.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
            properties.ReceiveMaximum = self.options.receive_maximum
        self.client.connect_async(
            self.options.url.host,
            self.options.url.port,
            keepalive=self.options.keepalive,
            clean_start=False,
            properties=properties,
        )
        self.client.loop_start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking messages, let Kafka acknowledge what is in flight, then disconnect:
        what Kafka has by then is acknowledged, the rest the broker sends again."""
        self._stopping = True
        self.client.unsubscribe(self.subscriptions())
        self.forwarder.flush(timeout=timeout)
        self.client.disconnect()
        self.client.loop_stop()

    def subscriptions(self) -> list[str]:
        return [self._subscription(t) for t in self.templates]

    def _subscription(self, template: Template) -> str:
        topic = template.subscription
        return f"$share/{self.options.group}/{topic}" if self.options.group else topic

    def _on_connect(
        self, client: paho.Client, _: Any, flags: Any, reason: ReasonCode, __: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT broker %s refused the connection: %s", self.options.url, reason)
            return
        self._connections += 1
        if self._connections > 1:
            self.metrics.reconnects.labels("mqtt").inc()
        self.metrics.connected.set(1)
        self.connected.set()
        log.info(
            "connected to %s as %s (session %s)",
            self.options.url,
            self.options.client_id,
            "resumed" if flags.session_present else "new",
        )
        # Always subscribe: a broker that lost the session (restarted without persistence)
        # would otherwise deliver nothing.
        client.subscribe([(topic, 1) for topic in self.subscriptions()])

    def _on_subscribe(
        self, _c: Any, _u: Any, _mid: int, reasons: list[ReasonCode], _p: Any
    ) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:
            log.error("the MQTT broker refused a subscription: %s", ", ".join(map(str, failed)))
        else:
            self.subscribed.set()

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, reason: ReasonCode, _p: Any) -> None:
        self.metrics.connected.set(0)
        self.connected.clear()
        self.subscribed.clear()
        if not self._stopping:
            log.warning("lost the MQTT broker %s (%s); reconnecting", self.options.url, reason)

    def _on_message(self, client: paho.Client, _: Any, message: paho.MQTTMessage) -> None:
        self._received.inc()
        # Room for one more in flight; with MQTT 5 the broker never sends past the bound.
        self._slots.acquire()
        topic = shown_topic(message)
        origin = Origin(f"{self.options.url}/{topic}", now())
        payload = bytes(message.payload)
        routed = self.router.route_mqtt(topic, payload, origin.received_at)
        mid, qos = message.mid, message.qos

        def done(error: BaseException | None) -> None:
            self._slots.release()
            if error is not None:
                log.warning("Kafka did not take a message from %s: %s", topic, error)
                self._resend_wanted.set()
                return
            if isinstance(routed, Routed):
                self._forwarded.inc()
            if qos > 0:
                client.ack(mid, qos)
            self._acknowledged.inc()

        if isinstance(routed, Routed):
            self.forwarder.forward(routed, origin, done)
        else:
            self.forwarder.dead_letter(routed, payload, origin, done)

    # --- supervision -------------------------------------------------------------------

    def supervise(self, stop: threading.Event, kafka_ready: Any) -> None:
        """Until `stop`: after a message Kafka refused, wait until Kafka answers again and
        reconnect to MQTT, so that the broker resends what was not acknowledged."""
        while not stop.is_set():
            if not self._resend_wanted.wait(timeout=0.5):
                continue
            while not stop.is_set() and not kafka_ready():
                stop.wait(1.0)  # Kafka is away: poll it every second, as paho polls MQTT
            if stop.is_set():
                return
            self._resend_wanted.clear()
            log.info("Kafka is back: reconnecting to MQTT for the messages it did not take")
            # A clean disconnect keeps the session: the broker resends what is unacknowledged.
            self.client.disconnect()
            self.client.loop_stop()
            self.start()

    def health(self) -> dict[str, Any]:
        return {
            "mqtt": "connected" if self.connected.is_set() else "disconnected",
            "subscribed": self.subscribed.is_set(),
            "in_flight": self.forwarder.in_flight,
            "kafka_failures": self.forwarder.failures,
            "ok": self.connected.is_set() and self.subscribed.is_set(),
            "checked_at": time.time(),
        }
