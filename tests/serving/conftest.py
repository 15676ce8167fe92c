"""Fixtures of the serving snapshot's readers: the report and its delivery."""

from __future__ import annotations

import pytest

from tests.support.smtp_server import running_smtp_server


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback that requires a login: its inbox and the settings that reach it."""
    with running_smtp_server() as inbox_and_settings:
        yield inbox_and_settings
