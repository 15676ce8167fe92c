"""The ground truth of every mart, computed from what the simulator recorded while it played the
journeys out (`Simulation.sessions`, `.identities`, `.webview_days`), as of the watermark. It is
*not* re-derived from the emitted events, so the pipeline, which derives everything from events
(docs/contract.md §4 and §6), can be checked against it. A second derivation, from the emitted
events by the contract's words alone (`from_contract.py`), checks both where this truth follows the
models' steps (tests/simulator/test_truth_crosscheck.py).

`truth(sim, measures)` computes it (once per simulation and `Measures`: the recontact window,
service level thresholds, short abandon bound and reporting time zone; the defaults unless
given). `simulate(...)` is the simulator's `simulate` whose result reads as the tests read it:
`sessions`, `visits`, `persons` and `marts` are the truth's rows, with the default measures.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from ingestion.simulator import Simulation
from ingestion.simulator import simulate as _simulate
from ingestion.simulator.world import to_ms
from tests.truth.agents import first_responder
from tests.truth.marts import MART_COLUMNS, Measures, marts
from tests.truth.persons import persons
from tests.truth.quality import follow_ups
from tests.truth.sessions import median, quantile, session_row, settle, visit_rows

__all__ = ["MART_COLUMNS", "Measures", "Simulated", "Truth", "median", "quantile", "simulate", "truth"]


@dataclass
class Truth:
    sessions: list[dict]      # fct_sessions rows, plus channel_user_id and person (an index into persons)
    visits: list[dict]        # fct_state_transitions rows, one per stage visit
    persons: list[dict]       # one per identity component: phones, user_ids, anonymous_ids, seen span, sessions
    marts: dict[str, list[dict]]   # MART_COLUMNS name -> rows, in the order of the mart's grain
    measures: Measures        # the settings it was computed with


def _compute(sim: Simulation, measures: Measures) -> Truth:
    watermark = to_ms(sim.watermark)
    settled = sorted((settle(s, watermark, sim.ttl_ms) for s in sim.sessions),
                     key=lambda o: (o.s.started, o.s.sid))
    people = persons(sim.identities, settled)
    person_of = {sid: n for n, p in enumerate(people) for sid in p["session_ids"]}
    follow = follow_ups(settled, person_of, watermark, measures.recontact_window_days)
    return Truth(sessions=[{**session_row(o, person_of[o.s.sid]), **first_responder(o), **follow[o.s.sid]}
                           for o in settled],
                 visits=[row for o in settled for row in visit_rows(o)],
                 persons=people,
                 marts=marts(settled, sim.webview_days, watermark, measures, follow),
                 measures=measures)


_computed: dict[tuple[int, Measures], Truth] = {}


def truth(sim: Simulation | Simulated, measures: Measures | None = None) -> Truth:
    """The truth of a simulation with the given measures (default: `Measures()`), computed on
    first use and kept while the simulation lives."""
    measures = Measures() if measures is None else measures
    if isinstance(sim, Simulated):
        if sim.truth.measures == measures:
            return sim.truth
        sim = sim.simulation
    key = (id(sim), measures)
    if key not in _computed:
        _computed[key] = _compute(sim, measures)
        weakref.finalize(sim, _computed.pop, key, None)
    return _computed[key]


class Simulated:
    """A simulation read through its truth: `sessions`, `visits`, `persons` and `marts` are the
    truth's rows; `events`, `batches`, `watermark`, `n_unique_events` and `batch()` the simulation's."""

    def __init__(self, simulation: Simulation):
        self.simulation = simulation
        self.truth = truth(simulation)
        self.events, self.batches = simulation.events, simulation.batches
        self.watermark, self.n_unique_events = simulation.watermark, simulation.n_unique_events
        self.sessions, self.visits = self.truth.sessions, self.truth.visits
        self.persons, self.marts = self.truth.persons, self.truth.marts

    def batch(self, index: int) -> list[dict]:
        return self.simulation.batch(index)


def simulate(*args, **kwargs) -> Simulated:
    """`ingestion.simulator.simulate(...)` with its truth."""
    return Simulated(_simulate(*args, **kwargs))
