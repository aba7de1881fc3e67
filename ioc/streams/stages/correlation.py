"""The correlation stage: alerts of different sources that are near each other in place and
time become one composite alert (camera smoke + a temperature spike within 300 m → fire).

The readings stage sends each alert that feeds a correlation rule to the grid cells around it
(ioc.geo.cells), keyed by rule and cell; this stage keeps one engine record per key, in a
changelogged table. Only the alert's home cell may complete a composite; in the neighbouring
cells it only counts, so a cluster is judged where its newest alert lives.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import orjson
from pydantic import ValidationError

from ioc.rules.kinds.correlation import CorrelationRule
from ioc.schemas.alerts import Alert
from ioc.streams.metrics import Metrics
from ioc.streams.outputs import Outputs
from ioc.streams.rulebook import Rulebook

log = logging.getLogger("ioc.streams")


class CorrelationStage:
    def __init__(
        self,
        rulebook: Rulebook,
        table: MutableMapping[str, Any],
        outputs: Outputs,
        metrics: Metrics,
    ) -> None:
        self.rulebook = rulebook
        self.table = table
        self.outputs = outputs
        self.metrics = metrics

    async def handle(self, message: Any) -> None:
        key = message.key.decode() if message.key else ""
        try:
            body = orjson.loads(message.value)
            alert = Alert.model_validate(body["alert"])
            rule_id, home = str(body["rule"]), bool(body["home"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
            # Only our own stage writes this topic: a bad record is a defect, kept for study.
            await self.outputs.refuse(message, "bad_internal_record", f"correlation record: {exc}")
            return
        engine = self.rulebook.engine
        rule = next((r for r in engine.correlations if r.id == rule_id), None)
        if not isinstance(rule, CorrelationRule):
            self.metrics.engine_events.labels("correlation_rule_gone").inc()
            return  # the rule was removed or disabled since the alert was sent
        state = self.table.get(key)
        triggers = {alert.alert_id} if home else set()
        state, composites = engine.correlate(state, [alert], rules=[rule], triggers=triggers)
        await self.outputs.publish(engine, composites)
        self.table[key] = state
