"""Who holds the working warehouse, so a lock conflict can say what to do.

DuckDB takes a POSIX lock on its file: a read lock for a read-only connection,
a write lock for a read-write one. Either stops a pipeline run. The kernel
lists every such lock in /proc/locks by device and inode.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import psutil

from orchestration.defs.dbt.executable import is_dbt_server

PROC_LOCKS = Path("/proc/locks")
_DUCKDB_PID = re.compile(r"\(PID (\d+)\)")


@dataclass(frozen=True)
class Holder:
    pid: int
    read_only: bool
    command: str


def lock_holders(path: Path) -> list[Holder]:
    """Processes holding a lock on `path` (empty where /proc/locks is not available)."""
    try:
        stat, table = path.stat(), PROC_LOCKS.read_text()
    except OSError:
        return []
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}"
    holders = {}
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] != "POSIX" or fields[4] == "->":
            continue  # only granted POSIX locks; "->" marks a waiter
        mode, pid, where = fields[3], int(fields[4]), fields[5]
        major_minor, _, inode = where.rpartition(":")
        if major_minor == device and int(inode) == stat.st_ino and pid != os.getpid():
            holders[pid] = Holder(pid, mode == "READ", _command(pid))
    return list(holders.values())


def lock_conflict_hint(reason: str, warehouse: Path, serving_db: Path) -> str | None:
    """What to do about a DuckDB lock conflict on the warehouse, or None when `reason` is not one."""
    if "Could not set lock on file" not in reason:
        return None
    holders = lock_holders(warehouse)
    if not holders:
        match = _DUCKDB_PID.search(reason)
        pid = int(match.group(1)) if match else None
        holders = [Holder(pid, False, _command(pid))] if pid else []
        if not holders:
            return (f"hint: another process holds the warehouse {warehouse}; stop it, then run again. "
                    f"Readers belong on the serving snapshot {serving_db}, which runs never lock.")
    lines = []
    for holder in holders:
        who = f"process {holder.pid} ({holder.command})"
        if holder.read_only:
            lines.append(f"hint: {who} has the working warehouse open read-only, and even a read-only "
                         f"connection stops a run. Close it (or end that process), then run again; to query "
                         f"the marts, connect to the serving snapshot {serving_db} instead: runs never lock it.")
        else:
            lines.append(f"hint: {who} has the working warehouse open read-write (another `journey run`, a "
                         "Dagster run, or a tool that opened it for writing). Wait for it to finish or stop "
                         "it, then run again.")
    return "\n  ".join(lines)


def _command(pid: int | None) -> str:
    try:
        process = psutil.Process(pid)
        command = process.cmdline()
        if is_dbt_server(command):  # its command line names a script no user would know
            return f"dbt, started by the `journey run` with process id {process.ppid()}"
        return " ".join(command)[:120] or "unknown command"
    except (psutil.Error, TypeError):
        return "no longer running"
