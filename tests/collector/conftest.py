"""The collector a test module shares (one process on loopback for all of the module's tests),
and the collector application in this process for a test of its own."""

from __future__ import annotations

import secrets

import pytest

from tests.collector.inprocess import in_process
from tests.support.collector_server import CollectorProcess


@pytest.fixture(scope="module")
def collector(request, tmp_path_factory):
    """Started with the module's `COLLECTOR_ENV` (settings on top of the defaults), if it has one."""
    env = dict(getattr(request.module, "COLLECTOR_ENV", {}))
    server = CollectorProcess(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]),
                              env_extra=env).start()
    yield server
    server.kill()


@pytest.fixture
def app(tmp_path):
    """The real collector application in this process, on a spool in `tmp_path`
    (tests/collector/inprocess.py): a generated WhatsApp app secret, and no per-IP
    limit, since fuzzing sends thousands of requests from one address."""
    yield from in_process(tmp_path, JOURNEY_WHATSAPP_APP_SECRET=secrets.token_hex(16),
                          JOURNEY_RATE_LIMIT_IP_RPS="0")
