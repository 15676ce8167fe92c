"""Debian's chromium for Playwright tests (`playwright install` cannot download browsers here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-proxy-server"]  # loopback only, whatever the environment's proxy says
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # tests/artifacts/, ignored by git


def chromium_or_skip() -> str:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium; scripts/test.sh does it as root)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    return str(CHROMIUM)
