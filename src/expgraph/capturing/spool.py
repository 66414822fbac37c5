"""Captured runs that could not be written yet (the store busy or the server unreachable) wait in a spool
directory as JSON files, one per run, until ``expgraph record --flush`` writes them. A file is removed only once
its run is in the catalog, and writing a run twice changes nothing (its graph is replaced with the same content),
so a record is never lost and never doubled.

The spool is ``$XDG_STATE_HOME/expgraph/spool`` unless the ``spool`` setting names another directory: state of
this machine's runs, not a cache (it must not be cleaned away) and not inside the store (which may be remote, or
be the very thing that could not be opened).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from expgraph import records

_TYPES = {cls.__name__: cls for cls in vars(records).values()
          if isinstance(cls, type) and dataclasses.is_dataclass(cls)}


def default_spool() -> Path:
    root = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(root) / "expgraph" / "spool"


def encode(value: Any) -> Any:
    """Records as JSON: each dataclass tagged with its type, times in ISO 8601, enums by value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"type": type(value).__name__, "fields": fields}
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {"mapping": {str(key): encode(item) for key, item in value.items()}}
    return value


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(decode(item) for item in value)
    if not isinstance(value, dict):
        return value
    if "datetime" in value:
        return datetime.fromisoformat(value["datetime"])
    if "mapping" in value:
        return {key: decode(item) for key, item in value["mapping"].items()}
    cls = _TYPES[value["type"]]
    fields = {name: decode(item) for name, item in value["fields"].items()}
    if cls is records.Run:
        fields["status"] = records.RunStatus(fields["status"])
    return cls(**fields)


def write(spool: Path, name: str, items: list[Any]) -> Path:
    """Keep a run's records in the spool (written whole, then renamed: a crash leaves no half file)."""
    spool.mkdir(parents=True, exist_ok=True)
    path = spool / f"{name}.json"
    with tempfile.NamedTemporaryFile("w", dir=spool, suffix=".part", delete=False, encoding="utf-8") as part:
        json.dump({"format": 1, "records": [encode(item) for item in items]}, part)
    os.replace(part.name, path)
    return path


def read(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return list(decode(data["records"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a readable spooled run ({error})") from None


def pending(spool: Path) -> Iterator[Path]:
    """Spooled runs, oldest first."""
    if spool.is_dir():
        yield from sorted(spool.glob("*.json"), key=lambda path: (path.stat().st_mtime_ns, path.name))
