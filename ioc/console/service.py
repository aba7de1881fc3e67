"""What one console process holds: the store, the live feed, a producer for operators'
commands, the zones and the authenticator — built once from settings, opened and closed with
the web app's lifespan. Nothing here is created at import time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from aiokafka import AIOKafkaProducer

from ioc.cap import ZoneNames
from ioc.cap import zone_names as names_of
from ioc.console.auth import Authenticator
from ioc.console.database import Database, database_for, store_url
from ioc.console.incident_reader import IncidentReader
from ioc.console.live import LiveFeed
from ioc.console.oidc import OidcSettings, OidcVerifier
from ioc.console.tokens import TokenStore
from ioc.geo import ZoneSet, load_zones
from ioc.kafka.cluster import Cluster
from ioc.kafka.topics import COMMANDS, INCIDENTS, SENSORS
from ioc.schemas.commands import Command, routing_key
from ioc.schemas.common import utcnow
from ioc.schemas.incidents import Incident
from ioc.settings import Settings


@dataclass
class Console:
    settings: Settings
    cluster: Cluster
    db: Database
    reader: IncidentReader
    tokens: TokenStore
    auth: Authenticator
    feed: LiveFeed
    zones: ZoneSet
    clock: Callable[[], datetime] = utcnow
    producer: AIOKafkaProducer | None = field(default=None)

    @cached_property
    def zone_names(self) -> ZoneNames:
        # The zones never change while the console runs: worked out once, for every CAP.
        return names_of(self.zones)

    @classmethod
    def from_settings(cls, settings: Settings, cluster: Cluster) -> Console:
        db = database_for(store_url(settings.sinks, settings.console_store), settings.data_dir)
        tokens = TokenStore(db)
        oidc = None
        if settings.console_oidc_issuer:
            assert settings.console_oidc_audience
            assert settings.console_oidc_jwks_url
            oidc = OidcVerifier(
                OidcSettings(
                    issuer=settings.console_oidc_issuer,
                    audience=settings.console_oidc_audience,
                    jwks_url=settings.console_oidc_jwks_url,
                    role_claim=settings.console_oidc_role_claim,
                )
            )
        feed = LiveFeed(cluster, settings.topic(INCIDENTS), settings.topic(SENSORS))
        zones = load_zones(settings.zones)
        return cls(
            settings=settings,
            cluster=cluster,
            db=db,
            reader=IncidentReader(db),
            tokens=tokens,
            auth=Authenticator(tokens, oidc),
            feed=feed,
            zones=zones,
        )

    async def open(self) -> None:
        await self.db.open()
        await self.feed.start()
        self.producer = AIOKafkaProducer(
            acks="all", enable_idempotence=False, **self.cluster.aiokafka()
        )
        await self.producer.start()

    async def close(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        await self.feed.stop()
        await self.db.close()

    async def send_command(self, incident: Incident, command: Command) -> None:
        assert self.producer is not None
        await self.producer.send_and_wait(
            self.settings.topic(COMMANDS),
            command.model_dump_json().encode(),
            key=routing_key(incident.rule_id, incident.subject),
        )

    async def apply(
        self, incident: Incident, command: Command, applied: Callable[[Incident], bool]
    ) -> Incident:
        """Send the command and wait for the worker's new version of the incident on the
        feed; TimeoutError when it does not come within the action timeout."""
        expected = self.feed.expect(lambda i: i.incident_id == incident.incident_id and applied(i))
        try:
            await self.send_command(incident, command)
            return await asyncio.wait_for(expected, self.settings.console_action_timeout)
        finally:
            expected.cancel()
