"""`ioc rules check | test | load` as an analyst uses them."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from ioc.cli import main
from ioc.rules.loader import default_rules
from ioc.rules.published import RULESET_KEY, decode_rules
from ioc.schemas.alerts import Alert
from simulators.generate import Simulation
from simulators.scenario import load_scenario
from tests.harness.kafka import Kafka
from tests.harness.processes import IOC
from tests.harness.scenario import PRIMARY
from tests.harness.servers import on_both_brokers

BAD_RULES = """\
name: broken
rules:
  - id: too-loud
    title: {vi: "Ồn", en: "Loud"}
    field: noise_db
    condition: 90
    severity: loud
    category: Env
"""

GOOD_RULES = """\
name: noise
rules:
  - id: too-loud
    title: {vi: "Tiếng ồn vượt ngưỡng", en: "Noise above limit"}
    when: {kind: environment}
    field: noise_db
    condition: ">= 90"
    severity: moderate
    category: Env
"""


def test_check_explains_every_rule_of_the_shipped_pack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check"]) == 0
    out = capsys.readouterr().out
    pack = default_rules()
    assert f"version {pack.version}" in out
    for rule in pack.rules:
        assert f"  {rule.id} ({rule.type}): {rule.title.en} / {rule.title.vi}" in out
    assert "mean of aqi_pm25 over a sliding 30m window > 100" in out
    assert "2 alerts of fire-smoke and heat-spike within 300 m and 10m" in out


def test_check_names_file_line_rule_and_field_of_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_RULES, encoding="utf-8")
    assert main(["rules", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "2 problems in the rules" in err
    assert f"{path}:6: rule too-loud: condition: a condition compares" in err
    assert f"{path}:7: rule too-loud: severity: Input should be 'extreme'" in err


def _record(tmp_path: Path, scenario: str) -> tuple[Path, Simulation]:
    sim = Simulation(load_scenario(scenario))
    path = tmp_path / f"{scenario}.jsonl"
    with path.open("wb") as fh:
        for record in sim.records():
            fh.write(record.to_line())
    return path, sim


def _alerts(out: str) -> list[Alert]:
    return [Alert.model_validate_json(line) for line in out.splitlines()]


EXPECTED = {**PRIMARY, "congestion": "congestion"}


def test_a_scenario_yields_the_alerts_it_injects_and_no_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, sim = _record(tmp_path, "storm-da-lat")
    assert main(["rules", "test", "--input", str(path), "--firing"]) == 0
    captured = capsys.readouterr()
    alerts = _alerts(captured.out)
    assert alerts
    assert all(a.status == "firing" for a in alerts)
    for episode in sim.episodes:
        rule = EXPECTED[episode.type]
        assert any(
            a.rule_id == rule
            and episode.start <= a.event_time <= episode.end
            and {e.sensor_id for e in a.evidence} & set(episode.sensors)
            for a in alerts
        ), f"{episode.type}: no {rule} alert"
    for alert in alerts:
        assert any(
            e.start <= alert.event_time <= e.end + timedelta(minutes=30)
            and {ev.sensor_id for ev in alert.evidence} & set(e.sensors)
            for e in sim.episodes
        ), f"{alert.rule_id} on {alert.subject} at {alert.event_time}: nothing was injected"
    # Provenance: each reading's topic travels with the evidence.
    topics = {e.topic for a in alerts for e in a.evidence} - {None}
    assert topics == {"sensors.environment", "sensors.traffic"}
    assert "4,380 messages, 0 refused" in captured.err


def test_a_quiet_recording_yields_no_alert_and_counts_refused_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim_path = tmp_path / "quiet.jsonl"
    subprocess.run(
        [
            *IOC,
            "simulate",
            "--scenario",
            "quiet-day",
            "--duration",
            "3h",
            "--malformed",
            "0.01",
            "--out",
            str(sim_path),
            "-q",
        ],
        capture_output=True,
        check=True,
    )
    assert main(["rules", "test", "--input", str(sim_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    messages = sum(1 for _ in sim_path.open("rb"))
    summary = captured.err.splitlines()[0]
    assert summary.startswith(f"{messages:,} messages, ")
    assert not summary.startswith(f"{messages:,} messages, 0 refused")
    assert "0 alerts" in summary
    assert "refused: " in captured.err


def test_the_table_is_one_line_per_alert_in_local_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = _record(tmp_path, "storm-da-lat")
    assert main(["rules", "test", "--input", str(path)]) == 0
    alerts = _alerts(capsys.readouterr().out)
    assert main(["rules", "test", "--input", str(path), "--table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("event time (+07)")
    assert len(lines) == len(alerts) + 1
    first = alerts[0]
    local = (first.event_time + timedelta(hours=7)).strftime("%Y-%m-%d %H:%M")
    assert lines[1].startswith(local)
    assert first.rule_id in lines[1]


def test_bare_messages_are_input_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "noise.yaml"
    rules.write_text(GOOD_RULES, encoding="utf-8")
    reading = {
        "kind": "environment",
        "sensor_id": "noise-1",
        "source_id": "st-1",
        "ts": "2026-11-16T22:00:00+07:00",
        "lat": 11.94,
        "lon": 108.44,
        "noise_db": 95.5,
    }
    messages = tmp_path / "messages.jsonl"
    messages.write_bytes(orjson.dumps(reading) + b"\n{not json\n")
    assert main(["rules", "test", str(rules), "--input", str(messages)]) == 0
    captured = capsys.readouterr()
    (alert,) = _alerts(captured.out)
    assert (alert.rule_id, alert.district, alert.evidence[0].value) == ("too-loud", "da-lat", 95.5)
    assert "2 messages, 1 refused" in captured.err
    assert "json_invalid 1" in captured.err


def test_load_refuses_a_bad_set_without_touching_the_broker(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_RULES, encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "IOC_BROKER": "kafka://127.0.0.1:1"}
    out = subprocess.run(
        [*IOC, "rules", "load", str(path)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 1
    assert "rule too-loud: severity" in out.stderr
    assert "published" not in out.stdout


@pytest.mark.integration
@on_both_brokers
def test_load_publishes_the_files_whole_under_one_key(
    tmp_path: Path, ioc_env: dict[str, str], kafka: Kafka
) -> None:
    path = tmp_path / "noise.yaml"
    path.write_text(GOOD_RULES, encoding="utf-8")
    env = {**ioc_env, "IOC_TOPIC_PREFIX": "rulesload."}
    out = subprocess.run(
        [*IOC, "rules", "load", str(path)], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    ((key, value),) = kafka.consume_until("rulesload.ioc.rules", lambda m: len(m) >= 1)
    assert key == RULESET_KEY
    ruleset, message = decode_rules(value, "test")
    assert [r.id for r in ruleset.rules] == ["too-loud"]
    assert message.files[0].text == GOOD_RULES
    assert f"version {ruleset.version}" in out.stdout
