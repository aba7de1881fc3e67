"""The console's page in a real browser (Debian's Chromium, driven by Playwright), against a
real worker, broker and console fed by the demo scenario: the map draws the province and the
incidents, an incident appears without a reload, an acknowledgement on one page reaches the
store and another page, a district sees its own district only, a viewer gets no actions."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ioc.kafka.embedded import EmbeddedBroker
from ioc.ports import free_port
from ioc.sinks.sqlite import IncidentStore
from tests.harness.consoles import ConsoleProcess, make_tokens
from tests.harness.kafka import Kafka
from tests.harness.paths import ROOT
from tests.harness.processes import IOC, ready, worker
from tests.harness.scenario import never_closed, recording, start_flow
from tests.harness.waiting import wait_for
from tests.services.availability import unavailable

pytestmark = [pytest.mark.integration, pytest.mark.browser]
T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("IOC_TEST_ARTIFACTS", ROOT / "var" / "test-artifacts"))
# Headless Chromium gives MapLibre WebGL through SwiftShader, its software renderer.
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"]


@dataclass
class Room:
    console: ConsoleProcess
    tokens: dict[str, str]
    store: Path

    def url(self, role: str, fragment: str = "") -> str:
        extra = f"&{fragment}" if fragment else ""
        return f"{self.console.url}/#token={self.tokens[role]}{extra}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        unavailable("Chromium is not installed (Debian's chromium package)")
    if not (ROOT / "ioc" / "console" / "static" / "index.html").exists():
        unavailable("the console's page is not built (make web)")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def room(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Room]:
    base = tmp_path_factory.mktemp("room")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update(
        IOC_BROKER=f"kafka://{broker.bootstrap}",
        IOC_DATA_DIR=str(base / "data"),
        IOC_TOPIC_PREFIX=f"room{time.monotonic_ns()}.",
        IOC_APP_ID=f"ioc-room-{time.monotonic_ns()}",
        IOC_WEB_PORT=str(free_port()),
        IOC_SESSION_TIMEOUT="6",
        IOC_HEARTBEAT_INTERVAL="0.5",
        IOC_SINKS="sqlite://",
        PYTHONUNBUFFERED="1",
    )
    store = base / "data" / "incidents.db"
    with worker(env, base / "worker.log") as proc:
        ready(env, proc)
        tokens = _in_thread(make_tokens, store, ("operator", "viewer", "district:da-lat"))
        room = Room(ConsoleProcess(env, base / "console.log").start(), tokens, store)
        try:
            yield room
        finally:
            room.console.stop()


def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Playwright's sync API keeps an event loop running in this thread: asyncio elsewhere."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def _open(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    page.wait_for_selector("#connection[data-state=live]", timeout=30_000)
    page.errors = errors
    return page


def _rendered(page: Any, *layers: str) -> int:
    count: int = page.evaluate(
        "(layers) => window.ioc.map.map.queryRenderedFeatures({layers}).length", list(layers)
    )
    return count


def test_the_room(browser: Any, room: Room, broker: EmbeddedBroker) -> None:
    """One scenario for the whole room, in the order an operator lives it."""
    operator = _open(browser, room.url("operator"))
    district = _open(browser, room.url("district:da-lat"))
    viewer = _open(browser, room.url("viewer"))
    # The province is drawn before any incident: district outlines, from the API.
    operator.wait_for_function(
        "() => window.ioc.map.map.queryRenderedFeatures({layers: ['district-lines']}).length > 0"
    )
    assert operator.locator("#list li.incident").count() == 0

    # The demo scenario flows; incidents appear on the open pages without a reload.
    env = dict(room.console.env)
    records = recording()
    # An incident of the scenario may close by itself (its alert resolves) while the operator
    # acts on it: the operator picks one that stays open to the scenario's end.
    lasting = never_closed(records, "da-lat")
    assert lasting, "the demo scenario has no Đà Lạt incident that stays open"
    _in_thread(start_flow, env, Kafka(broker.bootstrap), records)
    first = operator.wait_for_selector("#list li.incident", timeout=60_000)
    assert first is not None
    operator.wait_for_function(
        "() => window.ioc.map.map.queryRenderedFeatures("
        "{layers: ['incidents', 'incident-clusters']}).length > 0",
        timeout=30_000,
    )
    assert operator.url.endswith("/")  # the token left the address; no reload happened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    operator.screenshot(path=str(ARTIFACTS / "console-operator.png"))

    # Acknowledge an open district incident on the operator's page.
    either = ", ".join(f"#list li.incident[data-incident-id='{i}']" for i in sorted(lasting))
    item = operator.wait_for_selector(either, timeout=60_000)
    assert item is not None
    incident_id = item.get_attribute("data-incident-id")
    assert incident_id in lasting
    # By locator, not by the handle: the live list may redraw its rows in between, and a
    # locator finds the row again where a handle would point at a detached one.
    operator.locator(f"#list li.incident[data-incident-id='{incident_id}']").click()
    operator.wait_for_selector(f"#detail[data-incident-id='{incident_id}']")
    with room.console.client(room.tokens["operator"]) as api:
        shown = api.get(f"/api/incidents/{incident_id}").json()["incident"]
    if shown["ack_due"] is not None:  # the SLA's deadline, counting down
        first_text = operator.inner_text("#deadline")
        assert first_text.startswith("Hạn tiếp nhận"), first_text
        operator.wait_for_function(
            "(before) => document.getElementById('deadline').textContent !== before",
            arg=first_text,
            timeout=5_000,
        )
    operator.fill("#action-note", "đã cử đội kiểm tra")
    operator.click("#action-acknowledge")
    operator.wait_for_selector("#detail[data-status=acknowledged]", timeout=30_000)
    assert "đã cử đội kiểm tra" in operator.inner_text("#detail .timeline")
    stored = IncidentStore(room.store)
    wait_for(
        lambda: (i := stored.get(str(incident_id))) is not None and i.status == "acknowledged",
        30,
        "the store to have the acknowledgement",
    )
    # The district's page (another browser page) sees the change live.
    district.wait_for_selector(
        f"#list li[data-incident-id='{incident_id}'][data-status=acknowledged]", timeout=30_000
    )

    # The console restarts; meanwhile the incident is resolved from a terminal. The pages say
    # they lost the connection, reconnect by themselves and show what happened meanwhile.
    url, env = room.console.url, room.console.env
    room.console.stop()
    operator.wait_for_selector("#connection[data-state=offline]", timeout=30_000)
    subprocess.run(
        [*IOC, "incidents", "resolve", str(incident_id), "--note", "nước đã rút"],
        env=env,
        check=True,
        capture_output=True,
        timeout=90,
    )
    port = int(url.rsplit(":", 1)[1])
    room.console = ConsoleProcess(env, room.console.log_path, port=port).start()
    for page in (operator, district):
        page.wait_for_selector("#connection[data-state=live]", timeout=60_000)
        page.wait_for_selector(
            f"#list li[data-incident-id='{incident_id}'][data-status=resolved]", timeout=30_000
        )

    # A district's page lists its district only; the viewer's lists them all, with no action.
    districts = set(
        district.eval_on_selector_all(
            "#list li.incident", "els => els.map(e => e.dataset.district)"
        )
    )
    assert districts == {"da-lat"}
    everywhere = set(
        viewer.eval_on_selector_all("#list li.incident", "els => els.map(e => e.dataset.district)")
    )
    assert len(everywhere) > 1
    # Vietnamese by default; English on request.
    assert "Trung tâm" in viewer.inner_text("#title")
    viewer.click("#lang")
    assert "Operations Centre" in viewer.inner_text("#title")
    viewer.goto(room.console.url + f"/#incident={incident_id}")
    viewer.wait_for_selector(f"#detail[data-incident-id='{incident_id}']")
    assert viewer.locator("#detail .read-only").count() == 1
    assert viewer.locator("#action-acknowledge, #action-resolve").count() == 0
    district.set_viewport_size({"width": 1366, "height": 768})  # a laptop
    district.screenshot(path=str(ARTIFACTS / "console-district-laptop.png"))
    for page in (operator, district, viewer):
        assert page.errors == []
        page.close()
