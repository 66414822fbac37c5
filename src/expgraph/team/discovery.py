"""How a command finds the server that holds its store: ``serve`` writes ``server.json`` into the store directory
(address and process id) and removes it on exit; a file left by a server that died is recognised as stale (its
process is gone, or nothing answers at its address) and ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx

FILE_NAME = "server.json"
INFO_PATH = "/api/v1/info"
SERVICE = "expgraph"


def _connect_host(host: str) -> str:
    """An address a client on this machine can connect to (a wildcard bind is reachable on loopback)."""
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@contextlib.contextmanager
def announced(store_dir: str | Path | None, host: str, port: int) -> Iterator[None]:
    """``server.json`` in ``store_dir`` while the block runs (nothing for an in-memory store)."""
    if store_dir is None:
        yield
        return
    path = Path(store_dir) / FILE_NAME
    record = {"url": f"http://{_connect_host(host)}:{port}", "pid": os.getpid()}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record), encoding="utf-8")
    temporary.replace(path)  # readers never see half a file
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def is_expgraph(url: str, timeout: float) -> bool:
    """Whether ``url`` is an expgraph server (its ``/api/v1/info`` says so), not a plain SPARQL server. A server
    that does not answer in time raises ``httpx.TimeoutException`` (the caller says so, rather than wait again)."""
    try:
        response = httpx.get(url.rstrip("/") + INFO_PATH, timeout=timeout)
        return response.status_code == 200 and response.json().get("service") == SERVICE
    except httpx.TimeoutException:
        raise
    except (httpx.HTTPError, ValueError, AttributeError):
        return False


def running_server(store_dir: str | Path, timeout: float = 10.0) -> str | None:
    """The URL of the live expgraph server holding ``store_dir``, or None (no file, or a stale one)."""
    path = Path(store_dir) / FILE_NAME
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        url, pid = str(record["url"]), int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        return url if _alive(pid) and is_expgraph(url, timeout) else None
    except httpx.TimeoutException:
        return None  # not answering: not a server to go through (opening the store says if it is still held)
