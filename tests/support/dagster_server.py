"""`dagster dev -w workspace.yaml` on loopback for tests, with its GraphQL API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestration.instance_storage import instance_yaml
from orchestration.runner import DAGSTER_YAML
from tests.support import REPO
from tests.support.collector_server import free_port

DAGSTER = str(Path(sys.executable).with_name("dagster"))


def dagster_env(home: Path) -> dict[str, str]:
    """The environment of a `dagster` CLI on `home`, with the repository's instance settings."""
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    (home / "dagster" / "dagster.yaml").write_text(instance_yaml(DAGSTER_YAML, home / "dagster"))
    env = {**os.environ, "JOURNEY_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    env.pop("JOURNEY_WAREHOUSE", None)
    return env


def graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


ASSETS_AND_ERRORS = """{
    assetNodes { assetKey { path } }
    workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError {
        __typename ... on PythonError { message } } } } }
}"""


@contextmanager
def dagster_dev(home: Path, timeout_s: float = 180) -> Iterator[tuple[str, list[dict]]]:
    """Yields the UI's base URL and its asset nodes once the code location has loaded."""
    port = free_port()
    proc = subprocess.Popen([DAGSTER, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                            cwd=REPO, env=dagster_env(home), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                data = graphql(url, ASSETS_AND_ERRORS)
                errors = [e["locationOrLoadError"] for e in data["workspaceOrError"]["locationEntries"]
                          if (e["locationOrLoadError"] or {}).get("__typename") == "PythonError"]
                assert not errors, errors
                if data["assetNodes"]:
                    break
            except (OSError, KeyError, TypeError):
                pass
            assert proc.poll() is None, "dagster dev exited early"
            assert time.monotonic() < deadline, "dagster dev did not serve the asset graph in time"
            time.sleep(2)
        yield url, data["assetNodes"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
