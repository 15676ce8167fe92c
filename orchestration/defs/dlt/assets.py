"""The spool load: what waits in the sink → DuckDB `raw` through dlt, in bounded batches."""

import dagster as dg
from dagster_dlt import DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from ingestion.loader import RAW_DATASET, load_waiting, make_pipeline, spool_source
from ingestion.settings import Settings
from orchestration.defs.policies import DUCKDB_POOL, OWNERS

DESCRIPTIONS = {
    "events": "Raw events merged on event_id from sealed spool segments (first arrival wins).",
    "quarantine": "Records that failed validation, with the reason and where they came from.",
}


class RawTranslator(DagsterDltTranslator):
    """Keys `raw/<table>`, the keys the dbt sources declare, so lineage joins up."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        name = data.resource.name
        return super().get_asset_spec(data).replace_attributes(
            key=dg.AssetKey([RAW_DATASET, name]),
            deps=[],
            group_name="ingestion",
            owners=OWNERS,
            description=DESCRIPTIONS.get(name),
            kinds={"dlt", "duckdb"},
        )


def build_spool_assets(settings: Settings) -> dg.AssetsDefinition:
    @dlt_assets(
        dlt_source=spool_source(),
        dlt_pipeline=make_pipeline(settings),
        name="spool_load",
        dagster_dlt_translator=RawTranslator(),
        pool=DUCKDB_POOL,
    )
    def spool_load(context: dg.AssetExecutionContext):
        totals = load_waiting(make_pipeline(settings), settings, progress=context.log.info)
        if not totals["batches"]:
            context.log.info("spool: nothing waiting")
        # One result per table for the whole run, however many batches it took.
        rows = {"events": totals["events"], "quarantine": totals["quarantined"]}
        for key in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=key, metadata={
                "rows_loaded": rows[key.path[-1]], "segments": totals["segments"], "batches": totals["batches"]})

    return spool_load
