"""Debian's `strace` on a running process, and its trace read back as syscalls.

A SIGKILL test proves crash safety of the process only: the page cache outlives
a killed process, so a collector that answered 200 before its fsync passes it.
The order of syscalls is what power loss cares about, and `strace -f` shows it
across every thread in one file. Causality carries into that file: a thread
stopped at a syscall's exit cannot go on until strace has printed that exit,
so whatever it does next (waking the event loop, which then writes the
response) is printed after it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

TRACED = "openat,read,write,writev,pwrite64,fsync,fdatasync,sendto,sendmsg,recvfrom,close,rename"
# "PID HH:MM:SS.micro name(args) = ret" (the PID padded to a common width), or split across two lines when another thread's
# syscall came in between: "name(args <unfinished ...>" ... "<... name resumed>args) = ret".
_LINE = re.compile(r"^(?P<pid>\d+) +(?P<time>\S+) (?:<\.\.\. (?P<resumed>\w+) resumed>|(?P<name>\w+)\()(?P<rest>.*)$")
_RESULT = re.compile(r"\) += (?P<ret>-?\d+|\?)(?:<[^>]*>)?(?: [A-Z]+ \([^()]*\))?$")
_FD = re.compile(r"^(?P<fd>\d+)<(?P<path>.*?)>(?=[,)]|$)")  # a socket's "TCP:[a->b]" holds a ">" too


def strace_or_fail() -> str:
    """The strace binary; without it the test fails, CI or not."""
    binary = shutil.which("strace")
    if not binary:
        pytest.fail("strace is missing: apt-get install strace (bash scripts/test.sh does it as root)")
    return binary


@dataclass(frozen=True)
class Syscall:
    """One syscall; `entry` and `exit` are line numbers in the trace (exit None: it never returned)."""

    pid: int
    time: str
    name: str
    args: str
    ret: int | None
    entry: int
    exit: int | None

    @property
    def fd_path(self) -> str:
        """What `-yy` printed for the first argument: a file's path or a socket's endpoints."""
        found = _FD.match(self.args)
        return found.group("path") if found else ""


@contextmanager
def traced(pid: int, out: Path) -> Iterator[None]:
    """`strace -f` attached to every thread of `pid` inside the block, writing `out`; on
    leaving, strace detaches and has written the whole trace.
    Strings are kept whole (`-s`), fds are printed with their paths or sockets (`-yy`)."""
    strace = subprocess.Popen([strace_or_fail(), "-f", "-tt", "-yy", "-s", str(1 << 20), "-e", f"trace={TRACED}",
                               "-o", str(out), "-p", str(pid)], stderr=subprocess.PIPE, text=True)
    attached = strace.stderr.readline()
    if "attached" not in attached:
        strace.kill()
        pytest.fail(f"strace could not attach to {pid} (ptrace refused?): {attached}{strace.stderr.read()}")
    try:
        yield
    finally:
        strace.terminate()  # detaches from the process and flushes the trace
        strace.wait(timeout=60)


def parse(trace: Path) -> list[Syscall]:
    """The trace's syscalls in order of entry, each with its result joined from a resumed line."""
    calls: list[Syscall] = []
    open_calls: dict[int, tuple[int, str, str, str]] = {}  # pid -> (entry line, time, name, args so far)
    for no, line in enumerate(trace.read_text(errors="replace").splitlines()):
        found = _LINE.match(line)
        if not found:
            continue  # "+++ killed by SIGKILL +++" and signal lines
        pid, rest = int(found["pid"]), found["rest"]
        if found["resumed"]:
            entry, time, name, head = open_calls.pop(pid)
            rest = head + rest
        else:
            entry, time, name = no, found["time"], found["name"]
        if rest.endswith("<unfinished ...>"):
            open_calls[pid] = (entry, time, name, rest.removesuffix("<unfinished ...>").rstrip())
            continue
        result = _RESULT.search(rest)
        ret = None if not result or result["ret"] == "?" else int(result["ret"])
        calls.append(Syscall(pid, time, name, rest[:result.start()] if result else rest, ret, entry,
                             no if result else None))
    calls += [Syscall(pid, time, name, args, None, entry, None)  # never returned: killed inside
              for pid, (entry, time, name, args) in open_calls.items()]
    return sorted(calls, key=lambda c: c.entry)
