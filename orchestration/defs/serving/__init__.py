"""The serving snapshot: the marts as one DuckDB file that readers own."""

from orchestration.defs.serving.assets import SNAPSHOT_KEY, build_serving_assets

__all__ = ["SNAPSHOT_KEY", "build_serving_assets"]
