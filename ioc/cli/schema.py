"""`ioc schema KIND`: the JSON Schema of a model, for producers and consumers in any language."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ioc.schemas.export import SCHEMAS, json_schema

HELP = "print the JSON Schema of a message (reading, batch, alert, incident, …)"


def register(sub: Any) -> None:
    kinds = "\n".join(f"  {kind:<12} {description}" for kind, (_, description) in SCHEMAS.items())
    p: argparse.ArgumentParser = sub.add_parser(
        "schema",
        help=HELP,
        description=(
            "Print the JSON Schema (draft 2020-12) of one of ioc's messages. Sensor firmware and "
            "bridges can validate what they send against it; the worker applies the same rules "
            "and sends what fails to ioc.deadletter with the reason."
        ),
        epilog=f"Kinds:\n{kinds}\n\nExample:\n  ioc schema environment > environment.schema.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("kind", choices=list(SCHEMAS), metavar="KIND", help="which schema")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(args.kind), ensure_ascii=False, indent=2))
    return 0
