"""Seeded journey simulator: wire-format events, and a record of what it did behind them.

`simulate()` plays out customer journeys (chat -> webview -> human agents) on
one timeline per conversation and, while doing so, records what it did in its
own terms: the stage visits it walked through, whom it assigned, which messages
it sent when, which funnel steps the user viewed, which identifiers it put side
by side (`Simulation.sessions`, `.identities`, `.webview_days`). The tests
compute the expected marts from these records, not from the emitted events.

Identity: a person chats from one phone (about 3 % of them later from a second
one, on another channel); webview journeys carry the chat's phone and the
browser's anonymous id (some persons come back on a second browser); logins
(`identify`) tie a user id to a phone (both phones of a two-phone person) and
sometimes to a browser; a few webview visits come without a token, with only an
anonymous id.

The parts: `generate` (journeys to distinct events: `timeline` holds the moves,
`bot`, `webview` and `agents` the flows of a session, `people` who chats) and
`faults` (delivery: duplicates, disorder, lateness, batches). `Simulation.events`
is in delivery order: batch 0 first, and `batches` is non-decreasing. `realism`
holds the optional cases real traffic adds (ties, skewed browser clocks, queue
waits past the TTL, days-late deliveries, ...), off unless `simulate(realism=...)`
turns them on.

Only the standard library is used. Run ``python -m ingestion.simulator --help``
to write the batches as NDJSON files.
"""

from ingestion.simulator.simulation import Simulation, simulate, write_ndjson

__all__ = ["Simulation", "simulate", "write_ndjson"]
