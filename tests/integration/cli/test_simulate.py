"""`ioc simulate`: files without a broker, determinism across processes, the 100k-reading
run, listing and explaining scenarios, and errors a user can act on."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson

from simulators.records import Record
from tests.harness.processes import IOC
from tests.harness.scenario import TINY_SCENARIO, readings_of


def test_the_output_does_not_depend_on_the_process(tmp_path: Path) -> None:
    # Another interpreter (another hash seed) writes the same file.
    out = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for path, hashseed in zip(out, ("1", "2"), strict=True):
        subprocess.run(
            [*IOC, "simulate", "--scenario", "storm-da-lat", "--fast", "--out", str(path), "-q"],
            check=True,
            capture_output=True,
            env={"PYTHONHASHSEED": hashseed, "PATH": "/usr/bin:/bin"},
        )
    assert out[0].read_bytes() == out[1].read_bytes()


# --- the command ------------------------------------------------------------------------------


def test_simulate_the_storm_to_a_file_without_a_broker(tmp_path: Path) -> None:
    out = tmp_path / "f.jsonl"
    done = subprocess.run(
        [*IOC, "simulate", "--scenario", "storm-da-lat", "--fast", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "IOC_BROKER": "kafka://127.0.0.1:1"},
    )
    lines = out.read_bytes().splitlines()
    records = [Record.from_line(line) for line in lines]
    assert len(readings_of(records)) > 4000
    assert "readings/s" in done.stderr
    assert f"{len(records):,} messages" in done.stderr


def test_a_100k_reading_simulation_finishes_and_reports_its_rate(tmp_path: Path) -> None:
    done = subprocess.run(
        [*IOC, "simulate", "--scenario", "load", "--fast", "--out", str(tmp_path / "l.jsonl")],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = done.stderr.strip().splitlines()
    line = next(s for s in summary if "readings/s" in s)
    readings = int(line.split(" readings ")[0].split(", ")[-1].replace(",", ""))
    assert readings >= 100_000
    print(line)


def test_list_and_episodes() -> None:
    listed = subprocess.run(
        [*IOC, "simulate", "--list"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("storm-da-lat", "province-day", "quiet-day", "demo", "load"):
        assert name in listed
    plan = orjson.loads(
        subprocess.run(
            [*IOC, "simulate", "--scenario", "storm-da-lat", "--episodes"],
            capture_output=True,
            check=True,
        ).stdout
    )
    (storm, _) = plan["episodes"]
    assert storm["type"] == "storm"
    assert storm["where"] == "flood-ho-xuan-huong"
    assert storm["start"] == "2026-11-16T14:00:00+07:00"


def test_a_bad_scenario_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY_SCENARIO + "episodes: [{type: accident, road: ql99, at: '07:00'}]")
    done = subprocess.run(
        [*IOC, "simulate", "--scenario", str(bad), "--fast", "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "unknown road 'ql99'" in done.stderr
    assert "Traceback" not in done.stderr
