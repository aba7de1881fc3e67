"""What every benchmark shares: the machine it ran on, and where results are written."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "implementation": sys.implementation.name,
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC)
    path = RESULTS / f"{stamp:%Y-%m-%d}-{name}.json"
    payload = {"benchmark": name, "at": stamp.isoformat(timespec="seconds"), "machine": machine()}
    payload.update(result)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return path
