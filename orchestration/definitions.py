"""The one Dagster entry point: `dagster dev -w workspace.yaml` loads `defs`."""

from ingestion.settings import Settings
from orchestration.defs.build import LOAD_AND_TRANSFORM, build_definitions

__all__ = ["LOAD_AND_TRANSFORM", "build_definitions", "defs"]

defs = build_definitions(Settings.from_env())
