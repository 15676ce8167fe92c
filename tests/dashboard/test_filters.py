"""The period a page shows when its query string gives none, or only part of one."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard.filters import BadFilter, Filters

LATEST = date(2026, 11, 30)


def period(query: dict, earliest: date | None) -> tuple[date, date]:
    parsed = Filters.parse(query, LATEST, lambda: earliest).period
    return parsed.first_day, parsed.last_day


@pytest.mark.parametrize(("query", "earliest", "expected"), [
    ({}, date(2026, 1, 1), (date(2026, 11, 24), LATEST)),             # a week of data and more: the last 7 days
    ({}, None, (date(2026, 11, 24), LATEST)),                         # no session yet: the last 7 days
    ({}, date(2026, 11, 28), (date(2026, 11, 28), LATEST)),           # three days of data: those three
    ({"end": "2026-11-29"}, date(2026, 11, 28), (date(2026, 11, 28), date(2026, 11, 29))),
    ({"end": "2026-11-20"}, date(2026, 11, 28), (date(2026, 11, 14), date(2026, 11, 20))),  # ends before the data
    ({"start": "2026-11-01"}, date(2026, 11, 28), (date(2026, 11, 1), LATEST)),  # a start is taken as given
])
def test_the_default_period_is_the_last_week_clipped_to_the_first_day_with_data(query, earliest, expected):
    assert period(query, earliest) == expected


def test_the_first_day_with_data_is_not_asked_when_the_query_gives_a_start():
    def never() -> date:
        raise AssertionError("asked for the first day although the query gave a start")

    assert Filters.parse({"start": "2026-11-29"}, LATEST, never).period.first_day == date(2026, 11, 29)


def test_a_start_after_the_end_is_refused():
    with pytest.raises(BadFilter, match="starts"):
        Filters.parse({"start": "2026-12-05"}, LATEST)
