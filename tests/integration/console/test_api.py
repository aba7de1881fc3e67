"""The console's HTTP API against a real `ioc console`, store and broker: who sees what, by
every path (list, one incident, CAP, counts, zones, sensors, feeds, live events), and what an
action answers when it is refused or not applied."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from ioc.console.database import SqliteDatabase
from ioc.console.tokens import TokenStore
from ioc.kafka.topics import COMMANDS, INCIDENTS
from ioc.schemas.commands import Command
from tests.harness.console_data import opened
from tests.harness.consoles import ROLES, EventStream, Setup, incident_event, make_tokens

pytestmark = pytest.mark.integration


def ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {i["incident_id"] for i in response.json()["incidents"]}


def test_every_api_endpoint_needs_a_token(setup: Setup) -> None:
    spec = setup.get("/api/openapi.json", None).json()
    assert spec["openapi"].startswith("3.1")
    incident = setup.incidents["da-lat"].incident_id
    checked = 0
    for path, methods in spec["paths"].items():
        if path == "/healthz":
            continue
        url = (
            path.replace("{incident_id}", incident)
            .replace("{version}", "1")
            .replace("{area}", "da-lat")
        )
        for method in methods:
            for headers in ({}, {"Authorization": "Bearer ioc_000000000000_" + "x" * 43}):
                response = httpx.request(method, setup.console.url + url, headers=headers)
                assert response.status_code == 401, (method, path, response.text)
                assert response.headers["content-type"] == "application/problem+json"
                assert response.headers["www-authenticate"].startswith("Bearer")
                checked += 1
    assert checked >= 20


@pytest.mark.parametrize("role", ROLES)
def test_the_list_holds_what_the_role_may_see(setup: Setup, role: str) -> None:
    everything = {i.incident_id for i in setup.incidents.values()}
    own = {setup.incidents[k].incident_id for k in ("da-lat", "da-lat-ack")}
    assert ids(setup.get("/api/incidents", role)) == (
        own if role.startswith("district") else everything
    )


def test_a_district_asking_for_another_district_is_refused(setup: Setup) -> None:
    response = setup.get("/api/incidents", "district:da-lat", district="bao-loc")
    assert response.status_code == 403
    assert response.json()["type"].endswith("/other-district")
    assert ids(setup.get("/api/incidents", "district:da-lat", district="da-lat")) == {
        setup.incidents[k].incident_id for k in ("da-lat", "da-lat-ack")
    }


@pytest.mark.parametrize("other", ["bao-loc", "province"])
def test_another_districts_incident_is_not_found_by_any_path(setup: Setup, other: str) -> None:
    incident = setup.incidents[other].incident_id
    for path in (
        f"/api/incidents/{incident}",
        f"/api/incidents/{incident}/versions/1/cap",
    ):
        assert setup.get(path, "district:da-lat").status_code == 404, path
        assert setup.get(path, "operator").status_code == 200, path
    response = setup.post(f"/api/incidents/{incident}/acknowledge", "district:da-lat")
    assert response.status_code == 404
    found = ids(setup.get("/api/incidents", "district:da-lat", q=incident.lower()))
    assert found == set()


def test_counts_follow_the_role(setup: Setup) -> None:
    mine = setup.get("/api/counts", "district:da-lat").json()
    assert mine["total"] == 2
    assert mine["by_district"] == {"da-lat": 2}
    everything = setup.get("/api/counts", "viewer").json()
    assert everything["total"] == 4
    assert everything["by_district"] == {"da-lat": 2, "bao-loc": 1, "province": 1}
    assert everything["by_status"] == {"open": 3, "acknowledged": 1}


def test_sensors_and_zones_follow_the_role(setup: Setup) -> None:
    def sensor_ids(role: str) -> set[str]:
        body = setup.get("/api/sensors", role).json()
        assert body["type"] == "FeatureCollection"
        assert body["complete"] is True
        return {f["id"] for f in body["features"]}

    assert sensor_ids("operator") == {"s-da-lat", "s-bao-loc", "s-province"}
    assert sensor_ids("district:da-lat") == {"s-da-lat"}
    offline = setup.get("/api/sensors", "viewer", status="offline").json()
    assert [f["id"] for f in offline["features"]] == ["s-province"]
    zones = setup.get("/api/zones", "district:da-lat").json()["features"]
    assert zones
    assert {z["properties"]["district"] for z in zones} == {"da-lat"}
    every = setup.get("/api/zones", "operator").json()["features"]
    assert {z["properties"]["kind"] for z in every} >= {"province", "district", "restricted"}
    assert all(isinstance(z["properties"]["active"], bool) for z in every)


def test_cap_feeds_per_district_and_province(setup: Setup) -> None:
    def entries(area: str, role: str) -> httpx.Response:
        return setup.get(f"/api/feeds/cap/{area}.atom", role)

    own = entries("da-lat", "district:da-lat")
    assert own.status_code == 200
    assert own.headers["content-type"].startswith("application/atom+xml")
    assert setup.incidents["da-lat"].incident_id in own.text
    assert setup.incidents["bao-loc"].incident_id not in own.text
    assert entries("bao-loc", "district:da-lat").status_code == 403
    assert entries("province", "district:da-lat").status_code == 403
    province = entries("province", "viewer").text
    assert all(i.incident_id in province for i in setup.incidents.values())
    cap = setup.get(f"/api/incidents/{setup.incidents['da-lat'].incident_id}/versions/1/cap")
    assert cap.headers["content-type"].startswith("application/cap+xml")
    assert "<msgType>Alert</msgType>" in cap.text


def test_paging_covers_every_incident_once_newest_first(setup: Setup) -> None:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        body = setup.get("/api/incidents", "operator", **params).json()
        seen += body["incidents"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 4
    assert len({i["incident_id"] for i in seen}) == 4
    assert [i["last_seen"] for i in seen] == sorted((i["last_seen"] for i in seen), reverse=True)
    bad = setup.get("/api/incidents", "operator", cursor="not-a-cursor")
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


def test_a_viewer_may_not_act(setup: Setup) -> None:
    incident = setup.incidents["da-lat"].incident_id
    for action in ("acknowledge", "resolve"):
        response = setup.post(f"/api/incidents/{incident}/{action}", "viewer", {"note": "x"})
        assert response.status_code == 403
        assert response.json()["type"].endswith("/read-only")


def test_an_action_already_done_is_refused_with_its_reason(setup: Setup) -> None:
    incident = setup.incidents["da-lat-ack"].incident_id
    response = setup.post(f"/api/incidents/{incident}/acknowledge", "district:da-lat")
    assert response.status_code == 409
    assert response.json()["type"].endswith("/already-acknowledged")
    assert "already acknowledged" in response.json()["detail"]


def test_an_action_no_worker_applies_is_sent_and_answered_504(setup: Setup) -> None:
    incident = setup.incidents["bao-loc"]
    response = setup.post(
        f"/api/incidents/{incident.incident_id}/acknowledge",
        "district:bao-loc",
        {"note": "đã cử đội"},
    )
    assert response.status_code == 504, response.text
    assert "no worker applied it" in response.json()["detail"]
    sent = setup.kafka.consume(setup.prefix + COMMANDS, 1)
    command = Command.model_validate_json(sent[0][1])
    assert command.incident_id == incident.incident_id
    assert command.action == "acknowledge"
    assert command.actor == "test district:bao-loc"
    assert command.note == "đã cử đội"
    assert sent[0][0] == f"{incident.rule_id}|{incident.subject}".encode()


def test_live_events_of_another_district_never_reach_a_district(setup: Setup) -> None:
    url, tokens = setup.console.url, setup.tokens
    operator = EventStream(url, tokens["operator"]).start()
    district = EventStream(url, tokens["district:da-lat"]).start()
    try:
        hello = district.wait(lambda e: e.kind == "hello")
        assert hello.data["role"] == "district:da-lat"
        foreign = opened(30, district="bao-loc")
        own = opened(31, district="da-lat")
        topic = setup.prefix + INCIDENTS
        setup.kafka.produce(
            topic, [(foreign.incident_id.encode(), foreign.model_dump_json().encode())]
        )
        operator.wait(incident_event(foreign.incident_id))
        setup.kafka.produce(topic, [(own.incident_id.encode(), own.model_dump_json().encode())])
        got = district.wait(incident_event(own.incident_id))
        operator.wait(incident_event(own.incident_id))
        assert all(e.data.get("incident_id") != foreign.incident_id for e in district.seen), (
            "a bao-loc incident reached da-lat"
        )
        # Resumed from before the own incident, on a new connection: it is replayed, and
        # the foreign one still is not.
        before = hello.id
        again = EventStream(url, tokens["district:da-lat"], last_event_id=before).start()
        try:
            replayed = again.wait(incident_event(own.incident_id))
            assert replayed.id == got.id
            assert all(e.data.get("incident_id") != foreign.incident_id for e in again.seen)
        finally:
            again.close()
    finally:
        operator.close()
        district.close()


def test_a_stream_resumed_from_an_unknown_position_is_told_to_reload(setup: Setup) -> None:
    stream = EventStream(setup.console.url, setup.tokens["viewer"], last_event_id="9~9").start()
    try:
        assert stream.wait(lambda e: e.kind in ("reset", "incident")).kind == "reset"
    finally:
        stream.close()


def test_revoked_tokens_are_refused_at_once(setup: Setup) -> None:
    token = make_tokens(setup.store_path, ("viewer",))["viewer"]
    with setup.console.client(token) as client:
        assert client.get("/api/me").json()["role"] == "viewer"

    async def revoke() -> bool:
        db = SqliteDatabase(setup.store_path)
        return await TokenStore(db).revoke(token.split("_")[1])

    assert asyncio.run(revoke())
    with setup.console.client(token) as client:
        assert client.get("/api/me").status_code == 401


def test_security_headers_and_no_token_in_the_log(setup: Setup) -> None:
    response = setup.get("/api/me", "operator")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    log = setup.console.log_path.read_text()
    for token in setup.tokens.values():
        assert token.split("_", 2)[2] not in log  # the secret (it may hold "_" itself)


def test_a_bad_filter_is_a_problem_document(setup: Setup) -> None:
    for params in ({"bbox": "1,2,3"}, {"status": "closed"}, {"since": "yesterday"}):
        response = setup.get("/api/incidents", "operator", **params)
        assert response.status_code == 422, params
        body = orjson.loads(response.content)
        assert body["status"] == 422
        assert body.get("errors") or body["detail"]


# The role matrix: each role, each path that names an incident or an area, on its own
# district's, another district's and the province's. Acting on an incident already
# acknowledged is refused (409) where acting is allowed, so nothing is sent to a worker.
TARGETS = {"own": "da-lat-ack", "other": "bao-loc", "province": "province"}
AREAS = {"own": "da-lat", "other": "bao-loc", "province": "province"}
MATRIX_ROLES = ("operator", "viewer", "district:da-lat")


def expected_status(role: str, path: str, target: str) -> int:
    district = role.startswith("district:")
    if path.endswith("/acknowledge"):
        if role == "viewer":
            return 403
        return 404 if district and target != "own" else 409
    if "{area}" in path or "district=" in path:
        return 403 if district and target != "own" else 200
    return 404 if district and target != "own" else 200


MATRIX = [
    (role, method, path, target)
    for role in MATRIX_ROLES
    for method, path in (
        ("GET", "/api/incidents/{id}"),
        ("GET", "/api/incidents/{id}/versions/1/cap"),
        ("POST", "/api/incidents/{id}/acknowledge"),
        ("GET", "/api/feeds/cap/{area}.atom"),
        ("GET", "/api/counts?district={area}"),
        ("GET", "/api/incidents?district={area}"),
    )
    for target in TARGETS
    # An operator acknowledging an open incident sends a command: that is another test's.
    if not (role == "operator" and path.endswith("/acknowledge") and target != "own")
]


@pytest.mark.parametrize(("role", "method", "path", "target"), MATRIX)
def test_role_matrix(setup: Setup, role: str, method: str, path: str, target: str) -> None:
    incident = setup.incidents[TARGETS[target]]
    version = "versions/1" if incident.version == 1 else f"versions/{incident.version}"
    url = (
        path.replace("{id}", incident.incident_id)
        .replace("versions/1", version)
        .replace("{area}", AREAS[target])
    )
    with setup.console.client(setup.tokens[role]) as client:
        response = client.request(method, url)
    assert response.status_code == expected_status(role, path, target), response.text
    if response.status_code == 200 and url.startswith("/api/incidents?"):
        listed = {i["district"] for i in response.json()["incidents"]}
        assert listed <= {None if target == "province" else AREAS[target]}
