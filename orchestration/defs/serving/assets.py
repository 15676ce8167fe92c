"""The serving snapshot as a Dagster asset downstream of every mart.

Every mart's blocking checks (its dbt tests and Great Expectations suite) run
before it in the same run, so a failed check skips the publication and
readers keep the previous snapshot.
"""


import dagster as dg

from ingestion.settings import Settings
from orchestration.defs.dbt.project import dbt_project
from orchestration.defs.policies import DUCKDB_POOL, OWNERS
from orchestration.defs.serving.descriptions import descriptions, mart_models
from orchestration.defs.serving.publish import SCHEMA, SNAPSHOT_ASSET, publish_snapshot

SNAPSHOT_KEY = dg.AssetKey(list(SNAPSHOT_ASSET))


def build_serving_assets(settings: Settings) -> dg.AssetsDefinition:
    models = mart_models(dbt_project().manifest_path)

    @dg.asset(
        key=SNAPSHOT_KEY,
        deps=[dg.AssetKey([SCHEMA, name]) for name in sorted(models)],
        group_name="serving",
        kinds={"duckdb"},
        owners=OWNERS,
        # Reads the working warehouse: queue with its writers.
        pool=DUCKDB_POOL,
        description="The marts as one read-only DuckDB file for BI tools and the stakeholder report "
                    f"({settings.serving_db}), with table and column comments and the one-row "
                    "marts.publication. Replaced atomically after every run whose checks pass.",
    )
    def marts_snapshot(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        published = publish_snapshot(settings.warehouse, settings.serving_db, context.run.run_id, descriptions(models),
                                     memory_limit=settings.duckdb_memory_limit)
        context.log.info(f"published snapshot {published.version} at {published.path}")
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(published.path)),
            "version": published.version,
            "data_watermark": f"{published.data_watermark} UTC" if published.data_watermark else "no events yet",
            "events_loaded": published.events_loaded,
            "size_mb": round(published.bytes / 1e6, 2),
            "row_counts": dg.MetadataValue.json(published.row_counts),
            # Marts brought up to date from the previous snapshot, with the rows written; the rest copied whole.
            "rows_patched": dg.MetadataValue.json(published.patched),
        })

    return marts_snapshot
