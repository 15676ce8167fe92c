"""kill -9 that lands where a fault test says it does.

A kill after a fixed delay hits whatever the process happens to be doing, often
still importing. Here the test names the state it wants to interrupt as a
function of what it can see from outside (files, logs); the moment that state
shows, the whole process group is frozen (SIGSTOP), the state is read again, and
only if it still holds is the group killed. Nothing moves while frozen, so what
the second look saw is what the kill interrupted; that is the evidence the test
prints and asserts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group `proc` leads (started with `start_new_session=True`)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the whole group had already exited
    proc.wait(timeout=30)


def _all_stopped(pids: list[int]) -> bool:
    """Every thread of every process is in the stopped state ('T'), or gone."""
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                stat = Path(f"/proc/{pid}/task/{task}/stat").read_text()
            except FileNotFoundError:
                continue
            if stat[stat.rindex(")") + 2] not in "TtZX":
                return False
    return True


def _freeze(proc: subprocess.Popen) -> None:
    """SIGSTOP the group and wait until every thread has stopped (delivery is asynchronous);
    sent again while waiting, for a child forked as the first one went out."""
    deadline = time.monotonic() + 5
    while True:
        os.killpg(proc.pid, signal.SIGSTOP)
        pids = [proc.pid, *(child.pid for child in psutil.Process(proc.pid).children(recursive=True))]
        if _all_stopped(pids):
            return
        assert time.monotonic() < deadline, "the process group did not stop"
        time.sleep(0.001)


def kill_when(proc: subprocess.Popen, evidence: Callable[[], str | None], what: str,
              timeout_s: float = 300, poll_s: float = 0.002, output: Path | None = None) -> str:
    """SIGKILL `proc`'s group while `evidence()` (None: not yet) names `what` in progress;
    returns what it said with the group frozen just before the kill. Fails the test if
    the process ends or `timeout_s` passes without it (quoting the end of `output`, the
    file its output went to)."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        if evidence() is not None:
            _freeze(proc)
            seen = evidence()
            if seen is not None:
                kill_group(proc)
                return seen
            os.killpg(proc.pid, signal.SIGCONT)  # it finished between the two looks: go on
        time.sleep(poll_s)
    finished = proc.poll() is not None
    kill_group(proc)
    said = output.read_text(errors="replace")[-3000:] if output and output.exists() else ""
    pytest.fail(f"never caught {what} in progress: the process "
                f"{'ended' if finished else 'ran past the deadline'} first\n{said}")
