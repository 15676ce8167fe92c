"""The Dagster UI in a real browser: the asset graph, a mart's page, the serving snapshot's page and a run.

`journey run` builds the marts on a home whose Dagster instance `dagster dev`
then serves; Debian's chromium opens the global asset graph and the run, and
screenshots land in tests/artifacts/ for a human to look at.
"""

from __future__ import annotations

import secrets

import pytest

from ingestion.simulator import simulate
from tests.conftest import import_and_run
from tests.support.browser import ARTIFACTS, CHROMIUM_ARGS
from tests.support.dagster_server import dagster_dev, graphql

TIMEOUT_MS = 60_000


@pytest.fixture
def built_home(tmp_path):
    home = tmp_path / "home"
    import_and_run(home, secrets.token_hex(32), simulate(days=1, sessions_per_day=40, seed=9).events)
    return home


def test_asset_graph_and_run_page_render_in_chromium(built_home, chromium_path):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with dagster_dev(built_home) as (url, _):
        runs = graphql(url, "{ runsOrError { ... on Runs { results { runId status jobName } } } }")
        [run] = [r for r in runs["runsOrError"]["results"] if r["jobName"] == "load_and_transform"]
        assert run["status"] == "SUCCESS"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{url}/asset-groups", timeout=TIMEOUT_MS)
            skip = page.get_by_role("button", name="Skip")  # the community sign-up dialog of a new instance
            skip.wait_for(timeout=TIMEOUT_MS)
            skip.click()
            for group in ("ingestion", "staging", "intermediate", "marts", "serving", "reports", "ttl"):
                page.get_by_text(group, exact=True).first.wait_for(timeout=TIMEOUT_MS)
            page.screenshot(path=str(ARTIFACTS / "dagster_asset_graph.png"))

            page.goto(f"{url}/assets/marts/fct_sessions", timeout=TIMEOUT_MS)
            page.get_by_text("Latest materialization").first.wait_for(timeout=TIMEOUT_MS)
            page.get_by_text("Freshness policy").first.wait_for(timeout=TIMEOUT_MS)
            page.screenshot(path=str(ARTIFACTS / "dagster_fct_sessions.png"))

            # The snapshot's page shows where readers find it and what it holds.
            page.goto(f"{url}/assets/serving/marts_snapshot", timeout=TIMEOUT_MS)
            page.get_by_text("Latest materialization").first.wait_for(timeout=TIMEOUT_MS)
            for label in ("data_watermark", "events_loaded", "row_counts"):
                page.get_by_text(label).first.wait_for(timeout=TIMEOUT_MS)
            page.get_by_text(str(built_home / "serving" / "journey.duckdb")).first.wait_for(timeout=TIMEOUT_MS)
            page.screenshot(path=str(ARTIFACTS / "dagster_serving_snapshot.png"))

            page.goto(f"{url}/runs/{run['runId']}", timeout=TIMEOUT_MS)
            page.get_by_text("journey_dbt").first.wait_for(timeout=TIMEOUT_MS)
            page.get_by_text("Success", exact=True).first.wait_for(timeout=TIMEOUT_MS)
            page.screenshot(path=str(ARTIFACTS / "dagster_run.png"))
            browser.close()
    for name in ("dagster_asset_graph.png", "dagster_fct_sessions.png", "dagster_serving_snapshot.png",
                 "dagster_run.png"):
        assert (ARTIFACTS / name).stat().st_size > 20_000  # a rendered page, not a blank one
