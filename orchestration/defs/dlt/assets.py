"""The spool load: the sink's next batch → DuckDB `raw` through dlt."""

from contextlib import closing

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from ingestion.loader import (RAW_DATASET, ensure_raw_events, finish, known_events_warehouse, make_pipeline, prepare,
                              spool_source)
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
    def spool_load(context: dg.AssetExecutionContext, dlt: DagsterDltResource):
        pipeline = make_pipeline(settings)
        with closing(prepare(pipeline, settings)) as delivery:
            segments = delivery.segments
            if not segments:
                context.log.info("spool: no sealed segments waiting")
                if ensure_raw_events(settings):
                    context.log.info(f"created an empty {RAW_DATASET}.events on the new warehouse")
                for key in context.selected_asset_keys:
                    yield dg.MaterializeResult(asset_key=key, metadata={"segments": 0, "rows_loaded": 0})
                return
            context.log.info(f"spool: loading {len(segments)} sealed segment(s)")
            yield from dlt.run(context, dlt_source=spool_source(segments, known_events_warehouse(settings)),
                               dlt_pipeline=pipeline)
            finish(delivery)

    return spool_load
