"""Simulations shared by the simulator's tests (read only)."""

from __future__ import annotations

import pytest

from tests.truth import Simulated, simulate


@pytest.fixture(scope="package")
def week() -> Simulated:
    return simulate()


@pytest.fixture(scope="package")
def small() -> Simulated:
    return simulate(days=3, sessions_per_day=120, seed=11)
