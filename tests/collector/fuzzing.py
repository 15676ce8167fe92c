"""What every fuzzing property checks of one answer, whichever way the request travelled.

The promise is docs/contract.md §9.1 and §9.3: a valid batch is acknowledged
(200, `accepted` = its size) and then in the spool; an invalid one is refused
with a 4xx whose `problems` name only events that are invalid; never a 5xx.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.collector.strategies import Labelled, Tally, labelled_batch

# `events[3].properties.score: ...`, `occurred_at: ...`, `type: ...`
PROBLEM = re.compile(r"^(events\[\d+\]\.)?[A-Za-z_][\w.]*(\[\d+\])?[\w.]*: .+")
INDEX = re.compile(r"^events\[(\d+)\]\.")
# Examples per property in CI (issue 15: at least 1,000).
EXAMPLES = 1000
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

Key = tuple[str, str, str]


def key(record: dict) -> Key:
    """What identifies a delivery in the spool: the id, its type and its time, as the producer sent them."""
    return record["event_id"], record["type"], record["occurred_at"]


def body_of(batch: list[Labelled], single: bool) -> dict | object:
    """One event on its own when `single` and the batch has one, else `{"events": [...]}`."""
    return batch[0].data if single and len(batch) == 1 else {"events": [x.data for x in batch]}


def check_events_answer(batch: list[Labelled], single: bool, status: int, answer: dict, tally: Tally) -> list[Key]:
    """Asserts the verdict on a batch posted to `/v1/events`; returns the keys it acknowledged."""
    valid = all(x.valid for x in batch)
    tally.count(valid, [x.why for x in batch])
    assert status < 500, (status, answer)
    if valid:
        assert (status, answer) == (200, {"accepted": len(batch)}), [x.data for x in batch]
        return [key(x.data) for x in batch]
    assert status == 422, (status, answer, [(x.why, x.data) for x in batch])
    problems = answer.get("problems", [])
    assert answer["error"] and problems and all(PROBLEM.match(p) for p in problems), answer
    if not single or len(batch) > 1:
        named = {int(m.group(1)) for p in problems if (m := INDEX.match(p))}
        assert named and named <= {i for i, x in enumerate(batch) if not x.valid}, (problems, batch)
    return []


def events_property(post: Callable[[object], tuple[int, dict]], name: str) -> tuple[Tally, Counter]:
    """Runs the `/v1/events` property through `post` (a body to its status and JSON answer): `EXAMPLES`
    labelled batches, each checked; returns the tally and what was acknowledged, for the spool."""
    tally, acknowledged = Tally(name), Counter()

    @given(labelled_batch(), st.booleans())
    @PROPERTY
    def send(batch: list[Labelled], single: bool):
        status, answer = post(body_of(batch, single))
        acknowledged.update(check_events_answer(batch, single, status, answer, tally))

    send()
    return tally, acknowledged


def spool_records(home: Path) -> list[dict]:
    """Every record of a collector's spool, open segments included (read, never locked or sealed)."""
    return [orjson.loads(line) for path in sorted((home / "spool").rglob("*"))
            if path.is_file() for line in path.read_bytes().splitlines() if line]


def spool_keys(home: Path, of: Callable[[dict], object] = key) -> Counter:
    return Counter(of(r) for r in spool_records(home) if "event_id" in r)


def quarantined(home: Path) -> list[dict]:
    return [r["_quarantine"] for r in spool_records(home) if "_quarantine" in r]


def whatsapp_signature(body: bytes, secret: str) -> str:
    """Meta's `X-Hub-Signature-256`: HMAC-SHA256 of the raw body under the app secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
