"""The collector a test module shares: one process on loopback for all of the module's tests."""

from __future__ import annotations

import pytest

from tests.support.collector_server import CollectorProcess


@pytest.fixture(scope="module")
def collector(request, tmp_path_factory):
    """Started with the module's `COLLECTOR_ENV` (settings on top of the defaults), if it has one."""
    env = dict(getattr(request.module, "COLLECTOR_ENV", {}))
    server = CollectorProcess(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]),
                              env_extra=env).start()
    yield server
    server.kill()
