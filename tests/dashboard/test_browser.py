"""A real browser (Debian's chromium, driven by Playwright) through the dashboard:
every page, a filter applied with the form, a drill from a heatmap cell to its
sessions and on to one session's timeline, and from a funnel step's drop-offs to
a session's timeline with its webview steps. Screenshots: tests/artifacts/dashboard_*.png."""

from __future__ import annotations

from dashboard import format as fmt
from tests.support.browser import ARTIFACTS, CHROMIUM_ARGS

TIMEOUT_MS = 15_000
LOCAL = "((started_at at time zone 'UTC') at time zone 'Europe/Amsterdam')"  # the heatmap's time zone in the tests
PAGES = (("Overview", "overview"), ("Service", "service"), ("Self-service", "selfservice"), ("Agents", "agents"),
         ("Resolution quality", "quality"))


def test_a_manager_walks_through_the_dashboard(chromium_path, dashboard, built):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    whatsapp = built.value("select count(*) from marts.fct_sessions where channel = 'whatsapp' "
                           "and started_at::date between ? and ?", [built.first_day, built.last_day])
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            errors: list[str] = []  # failed requests and console errors (a stylesheet the CSP refused)
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
            page.goto(f"{dashboard.url}/?start={built.first_day}&end={built.last_day}")
            for label, name in PAGES:
                page.get_by_role("link", name=label, exact=True).click()
                expect(page.locator("h1")).to_contain_text(label)
                page.screenshot(path=str(ARTIFACTS / f"dashboard_{name}.png"), full_page=True)

            page.get_by_role("link", name="Overview", exact=True).click()
            page.select_option("select[name=channel]", "whatsapp")
            page.get_by_role("button", name="Apply").click()
            expect(page.locator("#kpi-sessions .kpi-value")).to_have_text(fmt.count(whatsapp))
            page.screenshot(path=str(ARTIFACTS / "dashboard_overview_whatsapp.png"), full_page=True)

            page.get_by_role("link", name="Service", exact=True).click()
            expect(page.locator("select[name=channel]")).to_have_value("whatsapp")  # the filter follows
            weekday, hour = built.query(f"select isodow({LOCAL}), hour({LOCAL}) from marts.fct_sessions "
                                        "where channel = 'whatsapp' group by all order by count(*) desc limit 1")[0]
            page.locator(f"#heatmap a[href*='cell={weekday}-{hour}']").click()
            expect(page.locator("h1")).to_contain_text("Sessions")
            expect(page.locator("#drill-description")).to_contain_text("Sessions that started on a")
            page.screenshot(path=str(ARTIFACTS / "dashboard_drilldown.png"), full_page=True)

            rows = page.locator("#session-table tbody tr")
            answered = next(i for i in range(rows.count())  # a session an agent answered, for a fuller timeline
                            if rows.nth(i).locator("td").nth(9).inner_text() != "–")
            rows.nth(answered).locator("a").click()
            expect(page.locator("#timeline svg")).to_be_visible()
            expect(page.locator("#visit-table tbody tr").first).to_be_visible()
            expect(page.locator("#event-table tbody tr").first).to_be_visible()
            expect(page.locator("#timeline")).to_contain_text("assignments, transfers")
            page.screenshot(path=str(ARTIFACTS / "dashboard_timeline.png"), full_page=True)

            page.goto(f"{dashboard.url}/self-service?start={built.first_day}&end={built.last_day}")
            page.locator("table.friction a[href*='outcome=dropped']").first.click()
            expect(page.locator("#drill-description")).to_contain_text("dropped off at step")
            page.screenshot(path=str(ARTIFACTS / "dashboard_drilldown_step.png"), full_page=True)
            page.locator("#session-table tbody tr a").first.click()
            expect(page.locator("#event-table")).to_contain_text("Viewed step")
            page.screenshot(path=str(ARTIFACTS / "dashboard_timeline_webview.png"), full_page=True)
            assert not errors, errors  # no refused stylesheet, nothing blocked by the CSP
        finally:
            browser.close()
