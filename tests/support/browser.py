"""Debian's chromium for Playwright tests (`playwright install` cannot download browsers here)."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-proxy-server"]  # loopback only, whatever the environment's proxy says
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # tests/artifacts/, ignored by git


def chromium_or_fail() -> str:
    """The browser's path; without it the test fails, CI or not: a suite that skips its
    browser tests reports green without having run them."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (bash scripts/test.sh does it as root)")
    return str(CHROMIUM)
