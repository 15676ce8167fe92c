"""Where every setting is read: the environment, and under it the collector's TOML file.

Each section (`core`, `sections`, `collector`) reads through one `Source`, so a
value is parsed the same way wherever it is used and an invalid one fails at
start-up with a message that names its variable.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PREFIX = "JOURNEY_"
TRUE = frozenset({"1", "true", "yes"})
_SIZE = re.compile(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


class Source:
    """The environment (`os.environ` unless given), and the values of a TOML file
    below it: a variable set to a non-empty value wins over the file's value of the
    same setting, named in lower case without the prefix (`api_keys` for
    `JOURNEY_API_KEYS`). Readers other than `exact` take an empty variable as unset."""

    def __init__(self, env: Mapping[str, str] | None = None, file_values: Mapping[str, Any] | None = None):
        self.env = os.environ if env is None else env
        self.file_values = dict(file_values or {})
        self.asked: set[str] = set()  # every variable read, for the test that docs/contract.md names them

    @classmethod
    def with_file(cls, env: Mapping[str, str] | None, file_variable: str) -> "Source":
        """The environment over the TOML file the variable `file_variable` names, if it names one."""
        source = cls(env)
        path = source.exact(file_variable)
        if path:
            try:
                source.file_values = tomllib.loads(Path(path).read_text())
            except (OSError, ValueError) as exc:  # ValueError: a TOMLDecodeError, or bytes that are not UTF-8
                raise ValueError(f"{file_variable} names {path}, which cannot be read as TOML: {exc}") from None
        return source

    def unread_file_keys(self) -> list[str]:
        """The file's keys that no reader has asked for (so far), in order."""
        return sorted(set(self.file_values) - {name.removeprefix(PREFIX).lower() for name in self.asked})

    def exact(self, name: str, default: str | None = None) -> str | None:
        """The variable as set, even empty; `default` when unset. The rule of dbt's
        `env_var(name, default)`, for the settings dbt's profile reads too."""
        self.asked.add(name)
        return self.env.get(name, default)

    def value(self, name: str, default: Any = None) -> Any:
        """The variable when set and not empty, else the file's value, else `default`."""
        self.asked.add(name)
        raw = self.env.get(name)
        if raw:
            return raw
        return self.file_values.get(name.removeprefix(PREFIX).lower(), default)

    def text(self, name: str, default: str | None = None) -> str | None:
        return self.value(name) or default

    def flag(self, name: str) -> bool:
        return str(self.value(name, "")).lower() in TRUE

    def path(self, name: str, default: Path) -> Path:
        raw = self.value(name)
        return Path(raw).expanduser().resolve() if raw else default

    def items(self, name: str) -> list[str]:
        """A comma-separated variable, or a list in the file; blanks dropped."""
        return as_items(self.value(name))

    def number(self, name: str, default: float, allow_zero: bool = False) -> float:
        """A positive number (or zero, when `allow_zero`)."""
        raw = self.value(name)
        if raw is None:
            return default
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"{name} must be a finite number, got {raw!r}")
        if number < 0 or (number == 0 and not allow_zero):
            raise ValueError(f"{name} must be {'zero or more' if allow_zero else 'positive'}, got {raw!r}")
        return number

    def whole(self, name: str, default: int, raw: Any = None, least: int = 1, most: int | None = None) -> int:
        """A whole number from `least` to `most` (a byte count, a number of seconds, a port);
        `raw` when the caller looked it up itself."""
        raw = self.value(name) if raw is None else raw
        if raw is None:
            return default
        try:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError  # a TOML true or 2.9 is no count; int() would take both
            number = int(raw)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
        if number < least or (most is not None and number > most):
            bounds = f"from {least} to {most}" if most is not None else f"{least} or more"
            raise ValueError(f"{name} must be {bounds}, got {raw!r}")
        return number

    def port(self, name: str, default: int, raw: Any = None) -> int:
        """A TCP port, 1 to 65535."""
        return self.whole(name, default, raw, most=65535)

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        """One of `choices`; the first when unset."""
        raw = self.value(name) or choices[0]
        if raw not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
        return raw

    def size(self, name: str, default: str) -> str:
        """A memory size as DuckDB takes it: 2GB, 512MiB."""
        raw = str(self.value(name) or default).strip()
        if not _SIZE.fullmatch(raw):
            raise ValueError(f"{name} must be a size such as 2GB or 512MiB, got {raw!r}")
        return raw


def as_items(raw: Any) -> list[str]:
    """Comma-separated text, or a list (from a TOML file), as stripped non-blank strings."""
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else raw
    return [str(item).strip() for item in items if str(item).strip()]
