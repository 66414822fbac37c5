"""Running queries where they can really be stopped: worker processes with a wall-clock limit.

pyoxigraph has no timeout and a Python thread cannot be killed, so for an embedded store each query runs in one
of ``max_concurrent_queries`` worker processes, and a query over its limit is stopped by killing its worker (a
fresh one replaces it). The server process keeps the store open for writing; a worker opens the on-disk store
read-only (RocksDB allows any number of read-only openers beside the one writer) and reopens it when the set of
active graph versions changes, so it always sees the latest swap. An in-memory store (tests, the demo) cannot be
shared, so its workers receive a copy (N-Quads) whenever it changes.

A remote store does its work on another server: its queries run in threads with the same limits on waiting;
the remote server is expected to enforce its own timeout.

The blocking :meth:`QueryRunner.run` is meant for a thread pool; :meth:`QueryRunner.run_async` puts it on the
runner's own pool, so the event loop never blocks and at most ``size`` queries run at once while others queue.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from queue import SimpleQueue
from typing import Any

import pyoxigraph
from pyoxigraph import NamedNode, QueryTriples, RdfFormat

from expgraph.sparql_formats import GRAPH_TYPES, RESULT_TYPES, acceptable_default, serialize
from expgraph.sparql_guard import CheckedQuery, QueryRefused, check_query, explain_syntax_error
from expgraph.store import EmbeddedStore, Store, StoreError
from expgraph.store.base import Term

#: The IRI rdflib's ``SPARQLStore`` sends as ``default-graph-uri`` for a plain ``Graph``'s default graph.
RDFLIB_DEFAULT = "urn:x-rdflib:default"


@dataclass(frozen=True)
class QueryJob:
    """One query to run. Graph lists are IRIs of logical graphs (or active versions); None means "not given"."""

    sparql: str
    accept: str | None = None
    bindings: dict[str, Term] = field(default_factory=dict)
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    untrusted: bool = True  # check with the guard (everything from outside the process, saved queries too)
    base: str | None = None  # the IRI relative IRIs resolve against when the query has no BASE (the endpoint's)
    max_rows: int = 10_000


@dataclass(frozen=True)
class QueryOutcome:
    status: int
    body: bytes = b""
    media_type: str = "text/plain; charset=utf-8"
    truncated: bool = False
    rows: int = 0
    message: str = ""
    seconds: float = 0.0
    cached: bool = False


def _error(status: int, message: str) -> QueryOutcome:
    return QueryOutcome(status, (message + "\n").encode(), message=message)


def execute(store: Store, job: QueryJob) -> QueryOutcome:
    """Check, run and serialise one query on a store; every error becomes an outcome with its HTTP status."""
    started = time.perf_counter()
    result = None
    checked: CheckedQuery | None = None
    try:
        checked = check_query(job.sparql, job.base) if job.untrusted else None
        # exactly the text the guard checked, with logical graph names mapped to the active versions
        sparql = store.scoped(checked.text if checked else job.sparql)
        default, named = _dataset(store, job, checked.from_graphs if checked else (),
                                  checked.from_named if checked else ())
        if default is None or named is None:
            result = store.query(sparql, bindings=job.bindings)
        else:
            result = store._query(sparql, default_graphs=default, named_graphs=named, bindings=job.bindings)
        offered = GRAPH_TYPES if isinstance(result, QueryTriples) else RESULT_TYPES
        # Nothing acceptable: answer in the default format rather than 406, as clients such as rdflib's
        # SPARQLStore ask for results formats even for CONSTRUCT and read the Content-Type of what comes back.
        media_type = acceptable_default(job.accept, offered)
        out = serialize(result, media_type, job.max_rows, rename=store.version_names())
    except QueryRefused as refused:
        return _error(refused.status, str(refused))
    except SyntaxError as error:
        return _error(400, explain_syntax_error(checked, str(error)) if checked else f"malformed query: {error}")
    except (StoreError, OSError, ValueError, RuntimeError) as error:
        return _error(500, f"query failed: {error}")
    finally:
        del result  # pyoxigraph's results must be dropped on the thread that made them
    return QueryOutcome(200, out.body, out.media_type, out.truncated, out.rows,
                        seconds=time.perf_counter() - started)


def _dataset(store: Store, job: QueryJob, from_graphs: tuple[str, ...],
             from_named: tuple[str, ...]) -> tuple[list[NamedNode] | None, list[NamedNode] | None]:
    """Physical default and named graphs: the protocol's graph parameters, else FROM clauses, else (None: all
    active, which the store may answer faster than by listing them).

    Only graphs of this store may be named: nothing is ever fetched from elsewhere.
    """
    active = store.active_graphs()
    physical = {name: info.version for name, info in active.items()}
    physical.update({info.version.value: info.version for info in active.values()})

    everything = [info.version for info in active.values()]

    def resolve(names: tuple[str, ...]) -> list[NamedNode]:
        if RDFLIB_DEFAULT in names:  # rdflib's SPARQLStore names "the default graph" so; take it as the union
            return everything + resolve(tuple(name for name in names if name != RDFLIB_DEFAULT))
        unknown = [name for name in names if name not in physical]
        if unknown:
            raise QueryRefused(f"graph <{unknown[0]}> is not in this store; the endpoint never fetches remote "
                               "graphs (GET it without a query to see the graphs it holds)")
        return [physical[name] for name in names]

    if job.default_graphs is not None or job.named_graphs is not None:
        return resolve(job.default_graphs or ()), resolve(job.named_graphs or ())
    if from_graphs or from_named:
        return resolve(from_graphs), resolve(from_named)
    return None, None


def generation(store: Store) -> tuple[str, ...]:
    """What identifies the store's current content: the active versions and their modification times."""
    return tuple(sorted(f"{info.version.value} {info.digest} {info.modified}"
                        for info in store.active_graphs().values()))


# -- worker processes ----------------------------------------------------------------------------------------------


class _Snapshot(EmbeddedStore):
    """A worker's read-only view: the on-disk store opened read-only, or a private copy of an in-memory store.

    Queries over all active graphs take the embedded store's union fast path.
    """

    def __init__(self, path: str | None = None, nquads: bytes | None = None) -> None:
        super().__init__(path)
        self._nquads = nquads

    def _open(self) -> pyoxigraph.Store:
        if self._nquads is not None:
            store = pyoxigraph.Store()
            store.bulk_load(self._nquads, RdfFormat.N_QUADS)
            self._nquads = None
            return store
        assert self.path is not None
        for attempt in range(20):  # a writer may be swapping files underneath: retry briefly
            try:
                return pyoxigraph.Store.read_only(str(self.path))
            except (OSError, RuntimeError):
                if attempt == 19:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._ox = None


def _open_snapshot(spec: tuple[str, Any]) -> Store:
    kind, payload = spec
    return _Snapshot(path=payload) if kind == "path" else _Snapshot(nquads=payload)


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker if the server dies mid-query (else it would run to the end).

    The signal follows the thread that started the worker, not its process: hence the runner's spawner thread."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main(conn: Connection) -> None:
    """A worker's loop: (re)open the snapshot when told, run jobs, until the server closes the pipe."""
    _die_with_parent()
    store: Store | None = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        spec, job = message
        if spec is not None:
            try:
                store = _open_snapshot(spec)
            except Exception as error:  # reported to the server as the query's failure
                store = None
                conn.send(_error(503, f"cannot open the store for reading: {error}"))
                continue
        assert store is not None
        conn.send(execute(store, job))


class _Worker:
    def __init__(self, context: Any) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child,), daemon=True, name="expgraph-query")
        self.process.start()
        child.close()
        self.generation: tuple[str, ...] | None = None

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class ResultCache:
    """Recent successful outcomes, valid while the store's content (its generation) stays the same.

    Saved queries over a large catalog take seconds (aggregates over every run); the catalog changes only when
    something is imported, so the second ask of the same query is answered from here. Bounded by entries and bytes.
    """

    def __init__(self, entries: int = 256, max_bytes: int = 64 * 2**20) -> None:
        self.entries, self.max_bytes = entries, max_bytes
        self._items: OrderedDict[tuple, QueryOutcome] = OrderedDict()
        self._bytes = 0
        self._generation: tuple[str, ...] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def key(job: QueryJob, current: tuple[str, ...]) -> tuple:
        bindings = tuple(sorted((name, str(term)) for name, term in job.bindings.items()))
        return (current, job.sparql, job.accept, bindings, job.default_graphs, job.named_graphs, job.untrusted,
                job.max_rows)

    def get(self, key: tuple) -> QueryOutcome | None:
        with self._lock:
            outcome = self._items.get(key)
            if outcome is not None:
                self._items.move_to_end(key)
            return outcome

    def put(self, key: tuple, outcome: QueryOutcome) -> None:
        if outcome.status != 200 or len(outcome.body) > self.max_bytes // 8 or not self.entries:
            return
        with self._lock:
            if key[0] != self._generation:  # the store changed: everything remembered is stale
                self._items.clear()
                self._bytes, self._generation = 0, key[0]
            self._items[key] = outcome
            self._bytes += len(outcome.body)
            while len(self._items) > self.entries or self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped.body)


class QueryRunner:
    """Runs :class:`QueryJob` s on a store with a wall-clock limit, ``size`` at a time, remembering recent results."""

    def __init__(self, store: Store, *, size: int = 2, timeout: float = 30.0, cache: bool = True) -> None:
        self.store = store
        self.cache = ResultCache(entries=256 if cache else 0)
        self.size = max(1, size)
        self.timeout = timeout
        self.executor = ThreadPoolExecutor(self.size, thread_name_prefix="expgraph-query")
        self.uses_processes = isinstance(store, EmbeddedStore)
        self._context = multiprocessing.get_context("spawn")
        self._idle: SimpleQueue[_Worker] = SimpleQueue()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        # Workers are started from this one long-lived thread: the parent-death signal (see _die_with_parent)
        # fires when the *thread* that started a worker ends, and the runner is often first used on a short-lived
        # one (the server's warm-up), whose end killed both workers.
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="expgraph-spawn")
        if not self.uses_processes:
            return
        for _ in range(self.size):  # started now: a spawned worker needs ~0.5 s to import before its first job
            worker = self._spawn()
            self._workers.append(worker)
            self._idle.put(worker)

    def _spawn(self) -> _Worker:
        return self._spawner.submit(_Worker, self._context).result()

    def _spec(self, worker: _Worker, current: tuple[str, ...]) -> tuple[str, Any] | None:
        """What the worker must reopen to see store version ``current``; None when it already does."""
        if worker.generation == current:
            return None
        worker.generation = current
        assert isinstance(self.store, EmbeddedStore)
        if self.store.path is not None:
            return ("path", str(self.store.path))
        return ("nquads", self.store.ox.dump(format=RdfFormat.N_QUADS))

    def run(self, job: QueryJob, timeout: float | None = None) -> QueryOutcome:
        """Run a job now, blocking (call from a worker thread); stops it at the limit."""
        if self._closed:
            return _error(503, "the query runner is shut down")
        if not self.uses_processes:  # a remote store may change behind our back: nothing is cached
            return execute(self.store, job)
        current = generation(self.store)
        key = self.cache.key(job, current)
        cached = self.cache.get(key)
        if cached is not None:
            return replace(cached, seconds=0.0, cached=True)
        outcome = self._run_in_worker(job, current, self.timeout if timeout is None else timeout)
        self.cache.put(key, outcome)
        return outcome

    def _run_in_worker(self, job: QueryJob, current: tuple[str, ...], limit: float) -> QueryOutcome:
        worker = self._idle.get()
        try:
            worker.conn.send((self._spec(worker, current), job))
            if worker.conn.poll(limit):
                outcome: QueryOutcome = worker.conn.recv()
                if outcome.status == 503:
                    worker.generation = None  # opening failed: try again next time
                return outcome
            worker = self._replace(worker)
            return _error(503, f"query stopped: it ran longer than the {limit:g} s limit "
                               "(setting query_timeout); narrow it down or add LIMIT")
        except (EOFError, OSError, BrokenPipeError) as error:
            worker = self._replace(worker)
            return _error(500, f"query worker died ({error or 'no reason given'}); it has been restarted")
        finally:
            self._idle.put(worker)

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        if self._closed:  # close() stopped a query in flight: no new worker
            return worker
        fresh = self._spawn()
        with self._lock:
            self._workers = [w for w in self._workers if w is not worker] + [fresh]
        return fresh

    async def run_async(self, job: QueryJob, timeout: float | None = None) -> QueryOutcome:
        """Run a job on the runner's thread pool: the event loop stays free, excess jobs queue."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, self.run, job, timeout)
        if self.uses_processes:
            return await future
        limit = self.timeout if timeout is None else timeout
        try:  # a remote query cannot be killed from here; stop waiting for it at least
            return await asyncio.wait_for(asyncio.shield(future), limit)
        except (TimeoutError, FutureTimeout):
            return _error(503, f"query stopped waiting after the {limit:g} s limit (setting query_timeout)")

    def close(self) -> None:
        """Stop the workers and the pool (queries still running are killed)."""
        self._closed = True
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.kill()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self._spawner.shutdown(wait=False)

