"""Running queries where they can really be stopped: worker processes with a wall-clock limit.

pyoxigraph has no timeout and a Python thread cannot be killed, so for an embedded store each query runs in one
of ``max_concurrent_queries`` worker processes, and a query over its time limit is stopped by killing its worker (a
fresh one replaces it). Each worker's memory is capped by the kernel (``RLIMIT_DATA``, setting ``query_memory_mb``):
an allocation over it aborts the worker, which is replaced, and the query is answered 503. The data limit counts
the worker's own heap, not the files RocksDB reads or maps, nor address space merely reserved (an opened on-disk
store reserves far more address space than it uses), so it caps what a query really makes.

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
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from queue import SimpleQueue
from typing import Any

from expgraph.sparql.cache import ResultCache
from expgraph.sparql.execute import MB, QueryJob, QueryOutcome, error_outcome, execute
from expgraph.sparql.scheduler import Busy, Scheduler
from expgraph.sparql.workers import Worker
from expgraph.store import Store
from expgraph.store.base import Snapshot
from expgraph.store.remote import RemoteStore

__all__ = ["LOCAL", "MB", "QueryJob", "QueryOutcome", "QueryRunner", "ResultCache", "execute", "outcome_headers",
           "runner_for"]

#: The client name of callers that do not say who they are (the CLI, tests, benchmarks).
LOCAL = "(local)"


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
        self.uses_processes = store.shares_snapshots
        self._context = multiprocessing.get_context("spawn")
        self._idle: SimpleQueue[Worker] = SimpleQueue()
        self._workers: list[Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        # Workers are started from this one long-lived thread: the parent-death signal (see _die_with_parent)
        # fires when the *thread* that started a worker ends, and the runner is often first used on a short-lived
        # one (the server's warm-up), whose end killed both workers.
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="expgraph-spawn")
        if not self.uses_processes:
            return
        for _ in range(self.size):  # started now: a spawned worker takes a while to import before its first job
            worker = self._spawn(store.generation())
            self._workers.append(worker)
            self._idle.put(worker)

    def _spawn(self, current: tuple[str, ...] | None = None) -> Worker:
        """A new worker; given the store's generation, an on-disk store is opened before the first job."""
        snapshot = self.store.snapshot(copy=False) if current is not None else None
        return self._spawner.submit(Worker, self._context, self.memory_mb, snapshot, current).result()

    def _snapshot(self, worker: Worker, current: tuple[str, ...]) -> Snapshot | None:
        """What the worker must reopen to see store version ``current``; None when it already does."""
        if worker.generation == current:
            return None
        worker.generation = current
        return self.store.snapshot()

    def run(self, job: QueryJob, timeout: float | None = None, client: str = LOCAL) -> QueryOutcome:
        """Run a job now, blocking (call from a worker thread); stops it at the limits.

        ``client`` names the caller for the scheduler (the web app passes the remote address;
        :data:`~expgraph.sparql.scheduler.BACKGROUND` for the warm-up)."""
        if self._closed:
            return error_outcome(503, "the query runner is shut down")
        if not self.uses_processes:  # a remote store may change behind our back: nothing is cached
            return self._scheduled(client, lambda: execute(self.store, job))
        current = self.store.generation()
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
            return replace(error_outcome(503, str(busy)), retry_after=busy.retry_after)

    def _run_in_worker(self, job: QueryJob, current: tuple[str, ...], limit: float) -> QueryOutcome:
        worker = self._idle.get()  # the scheduler hands out one place per worker: one is idle
        try:
            if not worker.wait_ready(limit):
                worker = self._replace(worker, current)
                return error_outcome(503, f"no query worker started within {limit:g} s; try again")
            worker.conn.send((self._snapshot(worker, current), job))
            if worker.conn.poll(limit):
                outcome: QueryOutcome = worker.conn.recv()
                if outcome.status == 503 and outcome.message.startswith("cannot open"):
                    worker.generation = None  # opening failed: try again next time
                return outcome
            worker = self._replace(worker, current)
            return error_outcome(503, f"query stopped: it ran longer than the {limit:g} s limit "
                               "(setting query_timeout); narrow it down or add LIMIT")
        except (EOFError, OSError, BrokenPipeError) as error:
            dead = worker
            worker = self._replace(worker, current)
            if dead.out_of_memory():
                return error_outcome(503, f"query stopped: it needed more than the {self.memory_mb} MB memory limit "
                                   "(setting query_memory_mb); narrow it down or add LIMIT")
            return error_outcome(500, f"the query engine failed on this query and its worker was restarted "
                               f"({dead.death() or error})")
        finally:
            self._idle.put(worker)

    def _replace(self, worker: Worker, current: tuple[str, ...]) -> Worker:
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
            return error_outcome(503, f"query stopped waiting after the {limit:g} s limit (setting query_timeout)")

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
    """A runner with the limits of the settings (``max_concurrent_queries``, ``query_timeout`` and the rest).
    A remote store's queries are not run in worker processes that can be killed: the server is given the limit."""
    if isinstance(store, RemoteStore) and store.query_timeout is None:  # none of its own: the endpoint's
        store.query_timeout = settings.query_timeout
    return QueryRunner(store, size=settings.max_concurrent_queries, timeout=settings.query_timeout,
                       cache_mb=settings.query_cache_mb, memory_mb=settings.query_memory_mb,
                       queue=settings.query_queue, wait=settings.query_wait)
