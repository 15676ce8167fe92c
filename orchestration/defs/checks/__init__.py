"""Great Expectations suites on the marts, run by Dagster as blocking asset checks."""

from orchestration.defs.checks.assets import build_gx_checks

__all__ = ["build_gx_checks"]
