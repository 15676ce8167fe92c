"""dbt models as Dagster assets; dbt tests become asset checks."""


from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from ingestion.settings import Settings
from orchestration.defs.checks.validation import import_in_background
from orchestration.defs.dbt.cli_args import DbtRunConfig, dbt_build_args
from orchestration.defs.dbt.project import dbt_project, target_for_this_project
from orchestration.defs.dbt.spark_tables import mirror_spark_tables
from orchestration.defs.policies import DUCKDB_POOL, MART_FRESHNESS, OWNERS


class JourneyDbtTranslator(DagsterDbtTranslator):
    """Groups by dbt folder (staging, intermediate, marts); every model owned; marts kept fresh."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest["nodes"].get(unique_id) or manifest["sources"].get(unique_id) or {}
        fqn = node.get("fqn", [])
        group = fqn[1] if len(fqn) > 2 else "reference"
        spec = spec.replace_attributes(group_name=group, owners=OWNERS)
        return spec.replace_attributes(freshness_policy=MART_FRESHNESS) if group == "marts" else spec


def build_dbt_assets(settings: Settings) -> dg.AssetsDefinition:
    project = dbt_project(settings.dbt_env())

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name="journey_dbt",
        pool=DUCKDB_POOL,
        dagster_dbt_translator=JourneyDbtTranslator(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
        ),
    )
    def journey_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtRunConfig):
        # One target folder per warehouse, kept between runs: dbt's partial parsing
        # then stays valid and a run does not re-parse the whole project.
        build = dbt.cli(dbt_build_args(config, settings.dbt_vars()), context=context,
                        target_path=target_for_this_project(settings.dbt_target_dir))
        import_in_background()  # the quality suites run next; their library loads while dbt works
        yield from build.stream()
        if settings.destination == "spark":
            # The checks and the publication read Spark's marts through views in the DuckDB file.
            mirror_spark_tables(settings)

    return journey_dbt
