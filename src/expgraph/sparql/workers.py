"""Query worker processes: each opens a read-only snapshot of the store, runs the jobs it is sent, and can be
killed at any moment (a query over its time limit is stopped so; a fresh worker replaces it). The kernel caps each
worker's data segment (``RLIMIT_DATA``), so a query that needs too much memory aborts its worker, not the server.
"""

from __future__ import annotations

import os
import resource
import signal
import tempfile
from multiprocessing.connection import Connection
from typing import Any

from expgraph.sparql.execute import MB, error_outcome, execute
from expgraph.store import Store
from expgraph.store.base import Snapshot

READY = "ready"  # a worker's first message


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker if the server dies mid-query (else it would run to the end).

    The signal follows the thread that started the worker, not its process: hence the runner's spawner thread."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _limit_memory(memory_mb: int) -> None:
    """Cap this process's data segment (heap and private writable mappings); 0 leaves it unlimited."""
    if memory_mb > 0:
        limit = memory_mb * MB
        _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _worker_main(conn: Connection, memory_mb: int = 0, snapshot: Snapshot | None = None,
                 stderr_path: str | None = None) -> None:
    """A worker's loop: (re)open the snapshot when told, run jobs, until the server closes the pipe.

    Over the memory limit, pyoxigraph's allocator aborts the process ("memory allocation of N bytes failed" on
    stderr); Python's MemoryError does the same here. A Rust panic in the engine aborts it too, so the server tells
    them apart by the last words on the worker's stderr, which goes to ``stderr_path``.
    """
    _die_with_parent()
    if stderr_path is not None:
        os.dup2(os.open(stderr_path, os.O_WRONLY | os.O_APPEND), 2)
    _limit_memory(memory_mb)
    store: Store | None = None
    if snapshot is not None:  # a replacement opens the store before its first job, not during it
        try:
            store = snapshot.open()
            store.active_graphs()
        except Exception:
            store = None
    conn.send(READY)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        snapshot, job = message
        if snapshot is not None:
            try:
                store = snapshot.open()
            except Exception as error:  # reported to the server as the query's failure
                store = None
                conn.send(error_outcome(503, f"cannot open the store for reading: {error}"))
                continue
        if store is None:
            conn.send(error_outcome(503, "cannot open the store for reading"))
            continue
        try:
            conn.send(execute(store, job))
        except MemoryError:
            os.write(2, b"memory allocation failed (MemoryError)\n")
            os.abort()


class Worker:
    """One worker process, its pipe, and what it last wrote to stderr (why it died, if it did)."""

    def __init__(self, context: Any, memory_mb: int, snapshot: Snapshot | None = None,
                 current: tuple[str, ...] | None = None) -> None:
        """Start a worker; given a ``snapshot`` (of store generation ``current``), it opens it before any job."""
        self.conn, child = context.Pipe()
        handle, self.stderr_path = tempfile.mkstemp(prefix="expgraph-query-", suffix=".log")
        os.close(handle)
        self.process = context.Process(target=_worker_main, args=(child, memory_mb, snapshot, self.stderr_path),
                                       daemon=True, name="expgraph-query")
        self.last_words = ""
        self.process.start()
        child.close()
        self.generation: tuple[str, ...] | None = current if snapshot is not None else None
        self.ready = False

    def wait_ready(self, limit: float) -> bool:
        """Take the worker's first message, sent once it has started (and opened the store, if told to)."""
        if not self.ready and self.conn.poll(limit):
            self.ready = self.conn.recv() == READY
        return self.ready

    def kill(self) -> None:
        """Stop the process and keep the end of what it wrote to stderr (why it died, if it did)."""
        self.process.kill()
        self.process.join(5)
        self.conn.close()
        try:
            with open(self.stderr_path, "rb") as log:
                log.seek(max(0, os.fstat(log.fileno()).st_size - 256 * 1024))  # backtraces are long
                self.last_words = log.read().decode("utf-8", "replace")
            os.unlink(self.stderr_path)
        except OSError:
            pass

    def out_of_memory(self) -> bool:
        return self.process.exitcode == -signal.SIGABRT and "memory allocation" in self.last_words

    def death(self) -> str:
        """The line saying why the worker died: a Rust panic's message, else its last line, else its exit code."""
        lines = [line.strip() for line in self.last_words.splitlines() if line.strip()]
        said = [line for line in lines if "panicked at" in line or "memory allocation" in line]
        return (said or lines or [f"exit code {self.process.exitcode}"])[-1][:300]
