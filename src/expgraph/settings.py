"""Every setting declared once: name, default, type and help.

Values come from the command line, then the environment (``EXPGRAPH_<NAME>``), then an optional TOML file
(``expgraph.toml`` in the working directory, or the file named by ``EXPGRAPH_CONFIG``), then the default. The same
table feeds ``--help``, ``docs/cli.md`` and the web app's ``/settings.json``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expgraph.namespaces import DEFAULT_BASE


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    type: type
    help: str
    secret: bool = False  # never shown (``/settings.json`` says only whether it is set)

    @property
    def env(self) -> str:
        return "EXPGRAPH_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("store", ".expgraph", str, "Directory of the embedded on-disk store."),
    Setting("endpoint", "", str, "URL of a remote SPARQL 1.1 endpoint to use instead of the embedded store."),
    Setting("timeout", 10.0, float, "Seconds to wait for a tracker server (MLflow) or a remote SPARQL store to "
            "connect and to answer (a remote store's first answer; later queries and uploads may take longer)."),
    Setting("base_iri", DEFAULT_BASE, str, "Prefix of the IRIs minted for imported things."),
    Setting("host", "127.0.0.1", str, "Address the web server listens on."),
    Setting("port", 8000, int, "Port the web server listens on."),
    Setting("query_timeout", 30.0, float, "Wall-clock limit in seconds for one query on the public endpoint."),
    Setting("max_rows", 10000, int, "Most result rows the public endpoint returns for one query."),
    Setting("max_concurrent_queries", 2, int, "Queries the public endpoint runs at once; more wait their turn."),
    Setting("query_memory_mb", 2048, int, "Memory in MB one query worker may use (data segment limit); a query "
            "over it is stopped with 503 and the worker replaced. 0: no limit."),
    Setting("max_result_mb", 32, int, "Largest result in MB the public endpoint sends for one query (503 beyond)."),
    Setting("query_queue", 32, int, "Queries that may wait for a worker (one client at most half of them); "
            "beyond, 503 with Retry-After."),
    Setting("query_wait", 10.0, float, "Seconds a query may wait for a worker before 503 with Retry-After."),
    Setting("query_cache_mb", 64, int, "Memory in MB for remembered query results (keyed by digest). 0: no cache."),
    Setting("max_body_kb", 1024, int, "Largest request body in KB (direct POST, forms); 413 beyond."),
    Setting("max_url_length", 8192, int, "Longest request target (path and query string) in bytes; 414 beyond."),
    Setting("client_header", "", str, "Behind a reverse proxy: the header naming the visitor's address (e.g. "
            "X-Forwarded-For; its last entry is used), so that queries are shared fairly per visitor."),
    Setting("presumed_dead_after", 24.0, float, "Hours without a sign of life (heartbeat, metric, log) after which "
            "a run its tracker still calls running is presumed dead at import (eg:inferredStatus)."),
    Setting("spool", "", str, "Directory where captured runs wait when the store cannot be written "
            "(default $XDG_STATE_HOME/expgraph/spool)."),
    Setting("token", "", str, "Bearer token for an expgraph server (`expgraph token create`); sent by every command "
            "that goes through a server.", secret=True),
    Setting("anonymous_read", "auto", str, "Whether the served catalog may be read without a token: on, off, or "
            "auto (on when the server listens on a loopback address only, off otherwise). Writes always need one."),
    Setting("max_upload_mb", 2048, int, "Largest graph in MB a client may upload to the write API (413 beyond)."),
    Setting("proxy_user_header", "", str, "Behind a reverse proxy with single sign-on: the header naming the "
            "signed-in user (e.g. X-Forwarded-User); the user has the role of the token of that name, else reader. "
            "Off when empty; trusted only from proxy_addresses."),
    Setting("proxy_addresses", "", str, "Addresses or networks (comma-separated, e.g. 127.0.0.1,10.0.0.0/8) of "
            "the reverse proxy whose proxy_user_header is trusted; from any other peer the header is ignored."),
    Setting("hash_cache", "", str, "File caching input checksums by path, size and time "
            "(default $XDG_CACHE_HOME/expgraph/hashes.sqlite)."),
    Setting("history_keep", 5, int, "Previous versions of each graph kept after an import or load replaced it "
            "(`expgraph history`, /history); 0: none."),
    Setting("history_days", 90.0, float, "Days a previous version is kept after it was replaced; 0: no age limit."),
    Setting("test_hold_apply", 0, int, "Testing only: the server stops applying an upload after this many statements "
            "and says so on stderr, so that a test can kill it mid-apply. 0: off."),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}


class SettingsError(ValueError):
    """A bad setting value; the message names the key and where it came from."""


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name in _BY_NAME:
            return self.values.get(name, _BY_NAME[name].default)
        raise AttributeError(name)

    def as_dict(self) -> dict[str, Any]:
        return {s.name: {"value": ("(set)" if getattr(self, s.name) else "") if s.secret else getattr(self, s.name),
                         "source": self.sources.get(s.name, "default")} for s in SETTINGS}


def _convert(setting: Setting, raw: Any, origin: str) -> Any:
    try:
        return setting.type(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {setting.name!r} from {origin}: expected {setting.type.__name__}, "
                            f"got {raw!r}") from None


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting; ``overrides`` are the command-line values (None means "not given")."""
    environ = os.environ if environ is None else environ
    config_path = Path(environ.get("EXPGRAPH_CONFIG", "expgraph.toml"))
    file_values: dict[str, Any] = {}
    if config_path.is_file():
        try:
            file_values = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise SettingsError(f"{config_path}: {error}") from None
        unknown = sorted(set(file_values) - set(_BY_NAME))
        if unknown:
            raise SettingsError(f"{config_path}: unknown setting {unknown[0]!r} (known: {', '.join(_BY_NAME)})")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        given = (overrides or {}).get(setting.name)
        if given is not None:
            values[setting.name], sources[setting.name] = _convert(setting, given, "the command line"), "command line"
        elif setting.env in environ:
            values[setting.name] = _convert(setting, environ[setting.env], setting.env)
            sources[setting.name] = setting.env
        elif setting.name in file_values:
            values[setting.name] = _convert(setting, file_values[setting.name], str(config_path))
            sources[setting.name] = str(config_path)
    return Settings(values, sources)
