"""One line per alert, incident or dead letter, for operators' terminals: local time, severity
in colour, district, what and where, in Vietnamese or English."""

from __future__ import annotations

import os
import sys
from typing import IO

from ioc.districts import DISTRICT_SLUGS, district
from ioc.geo.schedule import LOCAL_ZONE
from ioc.schemas.alerts import Alert
from ioc.schemas.deadletter import DeadLetter
from ioc.schemas.incidents import Incident

LOCAL = LOCAL_ZONE
COLOURS = {"extreme": "1;35", "severe": "1;31", "moderate": "33", "minor": "36"}
STATUS = {
    "vi": {
        "open": "MỚI",
        "acknowledged": "ĐÃ NHẬN",
        "resolved": "XONG",
        "auto_resolved": "TỰ HẾT",
        "firing": "BÁO",
    },
    "en": {
        "open": "OPEN",
        "acknowledged": "ACKED",
        "resolved": "RESOLVED",
        "auto_resolved": "CLEARED",
        "firing": "FIRING",
    },
}
SEVERITY = {
    "vi": {
        "extreme": "khẩn cấp",
        "severe": "nghiêm trọng",
        "moderate": "trung bình",
        "minor": "thấp",
    },
    "en": {"extreme": "extreme", "severe": "severe", "moderate": "moderate", "minor": "minor"},
}

# An operator's action as the line shows it: "(nhận: Nguyễn Văn A)", "(acknowledged by …)".
ACTED = {
    "vi": {"acknowledge": "nhận", "resolve": "xử lý xong"},
    "en": {"acknowledge": "acknowledged", "resolve": "resolved"},
}


def acted(action: str, actor: str, lang: str) -> str:
    verb = ACTED[lang].get(action, action)
    return f" ({verb}: {actor})" if lang == "vi" else f" ({verb} by {actor})"


def use_colour(stream: IO[str]) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _paint(text: str, code: str | None, colour: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if colour and code else text


def place(slug: str | None, lang: str) -> str:
    if slug in DISTRICT_SLUGS:
        d = district(slug)
        return d.name_vi if lang == "vi" else d.name_en
    return "Lâm Đồng" if lang == "vi" else "Province"


def alert_line(alert: Alert, lang: str = "vi", colour: bool = False) -> str:
    when = alert.event_time.astimezone(LOCAL).strftime("%H:%M:%S")
    status = STATUS[lang]["firing" if alert.status == "firing" else "resolved"]
    severity = _paint(f"{SEVERITY[lang][alert.severity]:<12}", COLOURS[alert.severity], colour)
    title = alert.title.vi if lang == "vi" else alert.title.en
    evidence = alert.evidence[0] if alert.evidence else None
    detail = f" {evidence.sensor_id} {evidence.field}={evidence.value}" if evidence else ""
    health = f" [{alert.health}]" if alert.health else ""
    return (
        f"{when} {status:<8} {severity} {place(alert.district, lang):<10} {title} —"
        f" {alert.subject}{detail}{health}"
    )


def incident_line(
    incident: Incident, lang: str = "vi", colour: bool = False, *, latest_alert: bool = False
) -> str:
    """One line; its time is the last change's (a live tail), or with `latest_alert` the
    latest alert's (a list sorted by it)."""
    last = incident.history[-1] if incident.history else None
    at = incident.last_seen if latest_alert or last is None else last.at
    when = at.astimezone(LOCAL).strftime("%H:%M:%S")
    status = STATUS[lang][incident.status]
    severity = _paint(
        f"{SEVERITY[lang][incident.severity]:<12}", COLOURS[incident.severity], colour
    )
    title = incident.title.vi if lang == "vi" else incident.title.en
    escalated = (" ⇧ tỉnh" if lang == "vi" else " ⇧ province") if incident.escalated else ""
    action = acted(last.action, last.actor, lang) if last and last.actor != "system" else ""
    return (
        f"{when} {status:<8} {severity} {place(incident.district, lang):<10} "
        f"{incident.incident_id} v{incident.version} {title} ×{incident.alert_count}"
        f"{escalated}{action}"
    )


def deadletter_line(letter: DeadLetter, lang: str = "vi", colour: bool = False) -> str:
    when = letter.received_at.astimezone(LOCAL).strftime("%H:%M:%S")
    where = f"{letter.source_topic}:{letter.partition}@{letter.offset}"
    label = _paint("BỎ" if lang == "vi" else "REFUSED", "2", colour)
    return f"{when} {label:<8} {where} {letter.sensor_id or '-'} {letter.reason}"


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
