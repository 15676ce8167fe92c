"""The TTL worker as an asset: the expiry events it appended to the spool."""


import dagster as dg

from ingestion.settings import Settings
from ingestion.ttl import emit_expiries
from orchestration.defs.policies import DUCKDB_POOL, OWNERS

EXPIRY_EVENTS = dg.AssetKey(["spool", "expiry_events"])
SESSIONS_BOUNDED = dg.AssetKey(["intermediate", "int_sessions__bounded"])


def build_ttl_assets(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=EXPIRY_EVENTS,
        deps=[SESSIONS_BOUNDED],
        group_name="ttl",
        owners=OWNERS,
        kinds={"python"},
        pool=DUCKDB_POOL,  # reads the warehouse; a read-only open fails while a writer holds it
        description=(
            "TTL worker (docs/contract.md §4.7): appends a `conversation.expired` event with a deterministic "
            f"id for every session idle for {settings.ttl_hours:g} h (clock: {settings.ttl_clock}) "
            "whose expiry is not in raw yet; the next load takes them."
        ),
    )
    def expiry_events(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        expiries = emit_expiries(settings)
        context.log.info(f"TTL worker: {len(expiries)} expiry event(s) appended to the spool")
        return dg.MaterializeResult(metadata={
            "emitted": len(expiries),
            "clock": settings.ttl_clock,
            "latest_expiry": expiries[-1].expired_at.isoformat() if expiries else "none",
        })

    return expiry_events
