"""Sends events to a running collector over HTTP, as a bot engine or desk would.

Batches go out from a few threads; a 503 (spool full) or a 429 (rate limit)
is retried after its Retry-After with the same events (the warehouse keeps
each event_id once), anything else that is not a 2xx stops the send with the
collector's own message.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor


class SendError(RuntimeError):
    pass


def post_batch(url: str, api_key: str, events: Sequence[dict], attempts: int = 20) -> int:
    body = json.dumps({"events": list(events)}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}
    for _ in range(attempts):
        request = urllib.request.Request(url + "/v1/events", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)["accepted"]
        except urllib.error.HTTPError as err:
            if err.code not in (429, 503):
                raise SendError(f"collector answered {err.code}: {err.read()[:500].decode()}") from None
            time.sleep(float(err.headers.get("Retry-After", "1")))
    raise SendError(f"collector still unavailable after {attempts} attempts")


def send_events(url: str, api_key: str, events: Sequence[dict], batch_size: int = 500, threads: int = 4,
                progress: Callable[[int, int], None] | None = None) -> int:
    batches = [events[i:i + batch_size] for i in range(0, len(events), batch_size)]
    accepted = 0
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for n, count in enumerate(pool.map(lambda b: post_batch(url, api_key, b), batches), start=1):
            accepted += count
            if progress and (n % max(1, len(batches) // 10) == 0 or n == len(batches)):
                progress(accepted, len(events))
    return accepted
