"""Running queries where they can really be stopped: worker processes with a wall-clock limit.

pyoxigraph has no timeout and a Python thread cannot be killed, so for an embedded store each query runs in one
of ``max_concurrent_queries`` worker processes, and a query over its time limit is stopped by killing its worker (a
fresh one replaces it). Each worker's memory is capped by the kernel (``RLIMIT_DATA``, setting ``query_memory_mb``):
an allocation over it aborts the worker, which is replaced, and the query is answered 503. The data limit counts
the worker's own heap, not the files RocksDB reads or maps, nor address space merely reserved (an opened on-disk
store reserves ~1 GB of address space with ~80 MB of data), so it caps what a query really makes.

The server process keeps the store open for writing; a worker opens the on-disk store read-only (RocksDB allows
any number of read-only openers beside the one writer) and reopens it when the set of active graph versions
changes, so it always sees the latest swap. An in-memory store (tests, the demo) cannot be
shared, so its workers receive a copy (N-Quads) whenever it changes.

A remote store does its work on another server: its queries run in threads with the same limits on waiting;
the remote server is expected to enforce its own timeout.

The blocking :meth:`QueryRunner.run` is meant for a thread pool; :meth:`QueryRunner.run_async` puts it on the
runner's own pool, so the event loop never blocks. Who runs next, and who is refused with 503 and ``Retry-After``,
is decided by the :class:`~expgraph.sparql.scheduler.Scheduler`: a bounded queue, fair between clients.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import resource
import signal
import tempfile
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

from expgraph.sparql.formats import GRAPH_TYPES, RESULT_TYPES, acceptable_default, serialize
from expgraph.sparql.guard import CheckedQuery, QueryRefused, check_query, explain_syntax_error
from expgraph.sparql.scheduler import Busy, Scheduler
from expgraph.store import EmbeddedStore, Store, StoreError
from expgraph.store.base import Term

#: The client name of callers that do not say who they are (the CLI, tests, benchmarks).
LOCAL = "(local)"
MB = 2**20
READY = "ready"  # a worker's first message

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
    max_bytes: int = 32 * MB  # the serialised result's cap


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
    retry_after: int | None = None  # seconds, when refused for lack of a free worker


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
        if len(out.body) > job.max_bytes:
            return _error(503, f"query stopped: its result is larger than the {job.max_bytes / MB:g} MB limit "
                               "(setting max_result_mb); select fewer rows or shorter values")
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
    """What identifies the store's current content (see :meth:`Store.generation`)."""
    return store.generation()


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


def _limit_memory(memory_mb: int) -> None:
    """Cap this process's data segment (heap and private writable mappings); 0 leaves it unlimited."""
    if memory_mb > 0:
        limit = memory_mb * MB
        _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _worker_main(conn: Connection, memory_mb: int = 0, spec: tuple[str, Any] | None = None,
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
    if spec is not None:  # a replacement opens the store before its first job, not during it
        try:
            store = _open_snapshot(spec)
            store.active_graphs()
        except Exception:
            store = None
    conn.send(READY)
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
        if store is None:
            conn.send(_error(503, "cannot open the store for reading"))
            continue
        try:
            conn.send(execute(store, job))
        except MemoryError:
            os.write(2, b"memory allocation failed (MemoryError)\n")
            os.abort()


class _Worker:
    def __init__(self, context: Any, memory_mb: int, spec: tuple[str, Any] | None = None,
                 current: tuple[str, ...] | None = None) -> None:
        self.conn, child = context.Pipe()
        handle, self.stderr_path = tempfile.mkstemp(prefix="expgraph-query-", suffix=".log")
        os.close(handle)
        self.process = context.Process(target=_worker_main, args=(child, memory_mb, spec, self.stderr_path),
                                       daemon=True, name="expgraph-query")
        self.last_words = ""
        self.process.start()
        child.close()
        self.generation: tuple[str, ...] | None = current if spec is not None else None
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


class ResultCache:
    """Recent successful outcomes, valid while the store's content (its generation) stays the same.

    Saved queries over a large catalog take seconds (aggregates over every run); the catalog changes only when
    something is imported, so the second ask of the same query is answered from here. Keys are digests, so a
    long query text is not kept; the budget counts every entry's body and message plus a fixed overhead.
    """

    OVERHEAD = 512  # bytes per entry for the key, the outcome object and the dictionary slot

    def __init__(self, max_bytes: int = 64 * MB) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[bytes, QueryOutcome] = OrderedDict()
        self._bytes = 0
        self._generation: bytes | None = None
        self._lock = threading.Lock()

    @staticmethod
    def key(job: QueryJob, current: tuple[str, ...]) -> bytes:
        """A digest of the store's generation and everything about the job that changes its answer."""
        bindings = sorted((name, str(term)) for name, term in job.bindings.items())
        parts = (current, job.sparql, job.accept, bindings, job.default_graphs, job.named_graphs, job.untrusted,
                 job.base, job.max_rows, job.max_bytes)
        return hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).digest()

    @staticmethod
    def _size(outcome: QueryOutcome) -> int:
        return len(outcome.body) + len(outcome.message) + ResultCache.OVERHEAD

    def get(self, key: bytes) -> QueryOutcome | None:
        with self._lock:
            outcome = self._items.get(key)
            if outcome is not None:
                self._items.move_to_end(key)
            return outcome

    def put(self, key: bytes, generation_: tuple[str, ...], outcome: QueryOutcome) -> None:
        size = self._size(outcome)
        if outcome.status != 200 or size > self.max_bytes // 8:
            return
        marker = hashlib.sha256(repr(generation_).encode()).digest()
        with self._lock:
            if marker != self._generation:  # the store changed: everything remembered is stale
                self._items.clear()
                self._bytes, self._generation = 0, marker
            if key in self._items:
                self._bytes -= self._size(self._items.pop(key))
            self._items[key] = outcome
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= self._size(dropped)

    @property
    def bytes(self) -> int:
        return self._bytes


class QueryRunner:
    """Runs :class:`QueryJob` s on a store within time and memory limits, ``size`` at a time, fairly between
    clients, remembering recent results."""

    def __init__(self, store: Store, *, size: int = 2, timeout: float = 30.0, cache_mb: int = 64,
                 memory_mb: int = 0, queue: int = 32, wait: float = 10.0) -> None:
        self.store = store
        self.cache = ResultCache(max(0, cache_mb) * MB)
        self.size = max(1, size)
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.scheduler = Scheduler(self.size, max_waiting=queue, max_wait=wait)
        # Threads for the queries running and those waiting (the scheduler bounds both), and one spare.
        self.executor = ThreadPoolExecutor(self.size + max(0, queue) + 1, thread_name_prefix="expgraph-query")
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
            worker = self._spawn(generation(store))
            self._workers.append(worker)
            self._idle.put(worker)

    def _spawn(self, current: tuple[str, ...] | None = None) -> _Worker:
        """A new worker; given the store's generation, an on-disk store is opened before the first job."""
        assert isinstance(self.store, EmbeddedStore)
        spec = ("path", str(self.store.path)) if current is not None and self.store.path is not None else None
        return self._spawner.submit(_Worker, self._context, self.memory_mb, spec, current).result()

    def _spec(self, worker: _Worker, current: tuple[str, ...]) -> tuple[str, Any] | None:
        """What the worker must reopen to see store version ``current``; None when it already does."""
        if worker.generation == current:
            return None
        worker.generation = current
        assert isinstance(self.store, EmbeddedStore)
        if self.store.path is not None:
            return ("path", str(self.store.path))
        return ("nquads", self.store.ox.dump(format=RdfFormat.N_QUADS))

    def run(self, job: QueryJob, timeout: float | None = None, client: str = LOCAL) -> QueryOutcome:
        """Run a job now, blocking (call from a worker thread); stops it at the limits.

        ``client`` names the caller for the scheduler (the web app passes the remote address;
        :data:`~expgraph.sparql.scheduler.BACKGROUND` for the warm-up)."""
        if self._closed:
            return _error(503, "the query runner is shut down")
        if not self.uses_processes:  # a remote store may change behind our back: nothing is cached
            return self._scheduled(client, lambda: execute(self.store, job))
        current = generation(self.store)
        key = self.cache.key(job, current)
        cached = self.cache.get(key)
        if cached is not None:
            return replace(cached, seconds=0.0, cached=True)
        limit = self.timeout if timeout is None else timeout
        outcome = self._scheduled(client, lambda: self._run_in_worker(job, current, limit))
        self.cache.put(key, current, outcome)
        return outcome

    def _scheduled(self, client: str, action: Any) -> QueryOutcome:
        try:
            with self.scheduler.slot(client):
                return action()
        except Busy as busy:
            return replace(_error(503, str(busy)), retry_after=busy.retry_after)

    def _run_in_worker(self, job: QueryJob, current: tuple[str, ...], limit: float) -> QueryOutcome:
        worker = self._idle.get()  # the scheduler hands out one place per worker: one is idle
        try:
            if not worker.wait_ready(limit):
                worker = self._replace(worker, current)
                return _error(503, f"no query worker started within {limit:g} s; try again")
            worker.conn.send((self._spec(worker, current), job))
            if worker.conn.poll(limit):
                outcome: QueryOutcome = worker.conn.recv()
                if outcome.status == 503 and outcome.message.startswith("cannot open"):
                    worker.generation = None  # opening failed: try again next time
                return outcome
            worker = self._replace(worker, current)
            return _error(503, f"query stopped: it ran longer than the {limit:g} s limit "
                               "(setting query_timeout); narrow it down or add LIMIT")
        except (EOFError, OSError, BrokenPipeError) as error:
            dead = worker
            worker = self._replace(worker, current)
            if dead.out_of_memory():
                return _error(503, f"query stopped: it needed more than the {self.memory_mb} MB memory limit "
                                   "(setting query_memory_mb); narrow it down or add LIMIT")
            return _error(500, f"the query engine failed on this query and its worker was restarted "
                               f"({dead.death() or error})")
        finally:
            self._idle.put(worker)

    def _replace(self, worker: _Worker, current: tuple[str, ...]) -> _Worker:
        worker.kill()
        if self._closed:  # close() stopped a query in flight: no new worker
            return worker
        fresh = self._spawn(current)
        fresh.wait_ready(60)  # on the stopped query's time, so the next query finds it ready
        with self._lock:
            self._workers = [w for w in self._workers if w is not worker] + [fresh]
        return fresh

    def worker_pids(self) -> list[int]:
        """The worker processes' ids (the load benchmark measures their memory)."""
        with self._lock:
            return [worker.process.pid for worker in self._workers if worker.process.pid is not None]

    async def run_async(self, job: QueryJob, timeout: float | None = None, client: str = LOCAL) -> QueryOutcome:
        """Run a job on the runner's thread pool: the event loop stays free, excess jobs queue."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, self.run, job, timeout, client)
        if self.uses_processes:
            return await future
        limit = self.timeout if timeout is None else timeout
        try:  # a remote query cannot be killed from here; stop waiting for it at least
            return await asyncio.wait_for(asyncio.shield(future), limit + self.scheduler.max_wait)
        except (TimeoutError, FutureTimeout):
            return _error(503, f"query stopped waiting after the {limit:g} s limit (setting query_timeout)")

    def close(self) -> None:
        """Stop the workers and the pool (queries still running are killed)."""
        self._closed = True
        self.scheduler.close()
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.kill()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self._spawner.shutdown(wait=False)


def outcome_headers(outcome: QueryOutcome) -> dict[str, str]:
    """HTTP headers an outcome calls for: ``Retry-After`` when it was refused for want of a worker."""
    return {"Retry-After": str(outcome.retry_after)} if outcome.retry_after else {}


def runner_for(store: Store, settings: Any) -> QueryRunner:
    """A runner with the limits of the settings (``max_concurrent_queries``, ``query_timeout`` and the rest)."""
    return QueryRunner(store, size=settings.max_concurrent_queries, timeout=settings.query_timeout,
                       cache_mb=settings.query_cache_mb, memory_mb=settings.query_memory_mb,
                       queue=settings.query_queue, wait=settings.query_wait)
