"""Where things are: the repository, and the test data beside the tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The device registry the bridge tests run with.
DEVICES = ROOT / "tests" / "data" / "devices.yaml"
