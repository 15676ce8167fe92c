"""The marts' descriptions, read from the dbt manifest (the yml docs), with the
json module only, so publishing needs neither dbt nor Dagster imported."""

from __future__ import annotations

import json
from pathlib import Path

from orchestration.defs.serving.publish import SCHEMA, Descriptions


def mart_models(manifest_path: Path) -> dict[str, dict]:
    """The dbt models of the marts folder, by name."""
    manifest = json.loads(manifest_path.read_text())
    return {node["name"]: node for node in manifest["nodes"].values()
            if node["resource_type"] == "model" and node["fqn"][1:2] == [SCHEMA]}


def descriptions(models: dict[str, dict]) -> Descriptions:
    return Descriptions(
        tables={name: node.get("description", "") for name, node in models.items()},
        columns={name: {column: spec.get("description", "") for column, spec in node["columns"].items()}
                 for name, node in models.items()},
    )
