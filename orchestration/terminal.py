"""What `journey` shows in the terminal while a run's own logs go to a file.

dbt, Dagster and the libraries under them print hundreds of lines a run. The
command keeps one line per stage for the terminal and sends everything else,
subprocesses included, to a log file by pointing file descriptors 1 and 2 at
it (so nothing escapes the capture); `--verbose` streams it all instead.
Rich decides colour: none when the output is not a terminal.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

MARKS = {"ok": "[green]✓[/]", "failed": "[bold red]✗[/]", "skipped": "[yellow]–[/]"}


class Terminal:
    """Lines for the record, and on a terminal (not verbose) a status line below them
    that says what the run is doing now, rewritten in place."""

    def __init__(self, console: Console, status: Spinner | None = None):
        self.console = console
        self.status = status

    def say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def stage(self, line: str, outcome: str) -> None:
        # One print: a status line refreshed between two would overwrite the mark.
        self.console.print(Text.from_markup(MARKS[outcome]) + Text(" " + line), highlight=False, soft_wrap=True)

    def working(self, text: str) -> None:
        if self.status is not None:
            self.status.update(text=Text(text))


def can_redraw(console: Console) -> bool:
    """Whether a status line may be drawn and rewritten on `console`: its stream is a
    terminal. Rich alone counts FORCE_COLOR or TTY_COMPATIBLE as one, even on a pipe,
    where the spinner's frames would pile up."""
    return console.file.isatty() and console.is_interactive


@contextmanager
def run_output(log_path: Path, verbose: bool) -> Iterator[Terminal]:
    """A Terminal on the real standard output; meanwhile (unless verbose) fds 1 and 2 go to `log_path`."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        stdout_fd = sys.stdout.fileno()
    except (AttributeError, io.UnsupportedOperation):  # an in-memory stdout (a test's capture)
        yield Terminal(Console(file=sys.stdout))
        return
    terminal = os.fdopen(os.dup(stdout_fd), "w", buffering=1, encoding="utf-8", errors="replace")
    if not verbose or not terminal.isatty():
        os.environ.setdefault("DBT_USE_COLORS", "false")  # dbt colours even what goes to a file
    if verbose:
        with terminal:
            yield Terminal(Console(file=terminal))
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    saved = [os.dup(1), os.dup(2)]
    with open(log_path, "ab") as log, terminal:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        console = Console(file=terminal)
        try:
            if can_redraw(console):
                # Live's default would route Python's stdout and stderr to the terminal,
                # above the status line: the very output that belongs in the log file.
                status = Spinner("dots", Text("starting Dagster…"))
                with Live(status, console=console, transient=True, redirect_stdout=False, redirect_stderr=False):
                    yield Terminal(console, status)
            else:
                yield Terminal(console)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip((1, 2), saved):
                os.dup2(copy, fd)
                os.close(copy)
