"""The public endpoint's resource limits: worker memory, result size, the fair bounded queue, request sizes, the
result cache's budget. Hostile queries of the security review, on a small catalog with low limits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from expgraph.catalog import prepare
from expgraph.settings import Settings
from expgraph.sparql.runner import QueryJob, QueryOutcome, QueryRunner, ResultCache
from expgraph.sparql.scheduler import BACKGROUND, Busy, Scheduler
from expgraph.store import EmbeddedStore
from expgraph.web.app import create_app
from expgraph.web.sparql import close_runner, query_runner
from query_fixtures import fill

JSON = "application/sparql-results+json"
COUNT_RUNS = "PREFIX eg: <https://w3id.org/expgraph#> SELECT (COUNT(?r) AS ?n) WHERE { ?r a eg:Run }"
#: The review's sort of a cross product (6.3 GB in 23 s on 10k runs), one pattern more for this small catalog.
SORTED_CROSS_PRODUCT = "SELECT ?a ?d WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?c ?f ?i LIMIT 1"
#: The review's nested CONCATs (2.2 GB in 4.5 s): a string doubled 26 times.
CONCAT_BOMB = "SELECT (STRLEN(?s26) AS ?n) WHERE { BIND(\"xxxxxxxxxxxxxxxx\" AS ?s0) " + " ".join(
    f"BIND(CONCAT(?s{i}, ?s{i}) AS ?s{i + 1})" for i in range(26)) + " }"
MEMORY_MB = 300


@pytest.fixture(scope="module")
def disk_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    store = fill(prepare(EmbeddedStore(Path(tmp_path_factory.mktemp("limits")) / "store")))
    yield store
    store.close()


@pytest.fixture(scope="module")
def low_memory_runner(disk_catalog: EmbeddedStore) -> Iterator[QueryRunner]:
    """One worker on the on-disk store (RocksDB files opened read-only), capped at MEMORY_MB; time is no limit."""
    runner = QueryRunner(disk_catalog, size=1, timeout=600, memory_mb=MEMORY_MB, cache_mb=0)
    yield runner
    runner.close()


# -- memory and result size ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", [SORTED_CROSS_PRODUCT, CONCAT_BOMB], ids=["sorted-cross-product", "concat-bomb"])
def test_a_query_over_the_memory_limit_is_stopped_and_the_worker_replaced(low_memory_runner, query):
    before = low_memory_runner.worker_pids()
    outcome = low_memory_runner.run(QueryJob(query, accept=JSON))
    assert outcome.status == 503
    assert f"{MEMORY_MB} MB memory limit" in outcome.message and "query_memory_mb" in outcome.message
    assert low_memory_runner.worker_pids() != before  # a fresh worker took the killed one's place
    after = low_memory_runner.run(QueryJob(COUNT_RUNS, accept="text/csv"))
    assert (after.status, after.body) == (200, b"n\r\n6\r\n")


def test_an_ordinary_query_runs_under_the_memory_limit(low_memory_runner):
    query = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY STR(?o)"  # (ORDER BY ?o: pyoxigraph 0.5.13 panics)
    outcome = low_memory_runner.run(QueryJob(query, accept=JSON))
    assert outcome.status == 200 and outcome.rows > 1000


def test_a_result_over_the_size_limit_is_refused(low_memory_runner):
    job = QueryJob("SELECT ?s ?p ?o WHERE { ?s ?p ?o }", accept=JSON, max_bytes=10_000)
    outcome = low_memory_runner.run(job)
    assert outcome.status == 503 and "max_result_mb" in outcome.message and not outcome.body.startswith(b"{")
    assert low_memory_runner.run(QueryJob(COUNT_RUNS, accept=JSON, max_bytes=10_000)).status == 200


# -- the scheduler -------------------------------------------------------------------------------------------------


def _acquire_in_thread(scheduler: Scheduler, client: str, log: list[str], name: str) -> threading.Thread:
    """Acquire in a thread, log the name when granted, release at once; failures are logged as 'busy:name'."""

    def work() -> None:
        try:
            with scheduler.slot(client):
                log.append(name)
        except Busy:
            log.append("busy:" + name)

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def _wait_until_waiting(scheduler: Scheduler, count: int) -> None:
    """Until ``count`` callers wait in the queue (a condition on state, not a timed sleep)."""
    for _ in range(10_000):
        if scheduler.waiting() == count:
            return
        threading.Event().wait(0.005)
    raise AssertionError(f"expected {count} waiting, have {scheduler.waiting()}")


def test_a_client_keeps_one_worker_free_for_the_others() -> None:
    scheduler = Scheduler(2, max_waiting=8, max_wait=60)
    scheduler.acquire("heavy")
    log: list[str] = []
    second = _acquire_in_thread(scheduler, "heavy", log, "heavy-2")
    _wait_until_waiting(scheduler, 1)  # a worker is free, yet the same client waits for its own to end
    light = _acquire_in_thread(scheduler, "light", log, "light")
    light.join(60)
    assert log == ["light"]
    scheduler.release("heavy")
    second.join(60)
    assert log == ["light", "heavy-2"]


def test_waiting_clients_take_turns() -> None:
    scheduler = Scheduler(1, max_waiting=8, max_wait=60)
    scheduler.acquire("x")
    log: list[str] = []
    threads = []
    for client, name in [("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1")]:
        threads.append(_acquire_in_thread(scheduler, client, log, name))
        _wait_until_waiting(scheduler, len(threads))
    scheduler.release("x")
    for thread in threads:
        thread.join(60)
    assert log == ["a1", "b1", "a2", "a3"]


def test_a_client_that_used_the_workers_least_goes_first() -> None:
    scheduler = Scheduler(1, max_waiting=8, max_wait=60)
    scheduler.acquire("heavy")
    scheduler.release("heavy", seconds=30)  # as after a query that ran into the time limit
    scheduler.acquire("x")
    log: list[str] = []
    heavy = _acquire_in_thread(scheduler, "heavy", log, "heavy")
    _wait_until_waiting(scheduler, 1)
    light = _acquire_in_thread(scheduler, "light", log, "light")  # came later, but used nothing
    _wait_until_waiting(scheduler, 2)
    scheduler.release("x")
    heavy.join(60)
    light.join(60)
    assert log == ["light", "heavy"]


def test_a_full_queue_is_refused_with_a_retry_time() -> None:
    scheduler = Scheduler(1, max_waiting=4, max_wait=60)
    scheduler.acquire("x")
    log: list[str] = []
    waiting = [_acquire_in_thread(scheduler, "a", log, f"a{i}") for i in range(2)]
    _wait_until_waiting(scheduler, 2)
    with pytest.raises(Busy, match="query_queue") as full:  # one client: at most half the queue
        scheduler.acquire("a")
    assert full.value.retry_after >= 1
    waiting += [_acquire_in_thread(scheduler, "b", log, f"b{i}") for i in range(2)]
    _wait_until_waiting(scheduler, 4)
    with pytest.raises(Busy, match="query_queue"):  # the whole queue
        scheduler.acquire("c")
    scheduler.release("x")
    for thread in waiting:
        thread.join(60)
    assert sorted(log) == ["a0", "a1", "b0", "b1"]


def test_a_long_wait_is_refused() -> None:
    scheduler = Scheduler(1, max_waiting=4, max_wait=0.1)
    scheduler.acquire("x")
    with pytest.raises(Busy, match="query_wait") as late:  # nobody released within max_wait
        scheduler.acquire("b")
    assert late.value.retry_after >= 1 and scheduler.waiting() == 0


def test_background_work_waits_for_requests_and_leaves_a_worker_idle() -> None:
    scheduler = Scheduler(2, max_waiting=8, max_wait=60)
    scheduler.acquire("a")  # one worker busy, one idle: background work must not take the idle one
    log: list[str] = []
    background = _acquire_in_thread(scheduler, BACKGROUND, log, "warm-up")
    _wait_until_waiting(scheduler, 1)
    request = _acquire_in_thread(scheduler, "b", log, "request")
    request.join(60)
    assert log == ["request"]
    scheduler.release("a")
    background.join(60)
    assert log == ["request", "warm-up"]


# -- through HTTP --------------------------------------------------------------------------------------------------


@pytest.fixture
def small_app(memory_store) -> Iterator[tuple[TestClient, object]]:
    settings = Settings({"max_concurrent_queries": 1, "query_wait": 0.0, "max_body_kb": 4, "max_url_length": 2000})
    app = create_app(fill(memory_store), settings)
    with TestClient(app) as client:
        yield client, app
    close_runner(app)


def test_no_free_worker_is_503_with_retry_after(small_app) -> None:
    client, app = small_app
    runner = query_runner(app)
    runner.scheduler.acquire("someone else")  # the only worker is taken
    try:
        response = client.get("/sparql", params={"query": COUNT_RUNS})
        assert response.status_code == 503 and int(response.headers["retry-after"]) >= 1
        assert "query_wait" in response.text
        saved = client.get("/queries/failures-by-mode", params={"format": "json"})
        assert saved.status_code == 503 and "retry-after" in saved.headers
    finally:
        runner.scheduler.release("someone else")
    assert client.get("/sparql", params={"query": COUNT_RUNS}, headers={"Accept": "text/csv"}).text == "n\r\n6\r\n"


def test_behind_a_proxy_the_named_address_is_the_client(memory_store) -> None:
    settings = Settings({"max_concurrent_queries": 2, "query_wait": 0.0, "client_header": "X-Forwarded-For"})
    app = create_app(fill(memory_store), settings)
    try:
        with TestClient(app) as client:
            runner = query_runner(app)
            runner.scheduler.acquire("10.0.0.1")  # that visitor already runs its one query
            try:
                def ask(chain: str) -> int:
                    return client.get("/sparql", params={"query": f"{COUNT_RUNS} # {chain}"},  # never cached
                                      headers={"X-Forwarded-For": chain}).status_code

                assert ask("10.0.0.1") == 503
                assert ask("10.0.0.1, 10.0.0.2") == 200  # the proxy's own entry, not one the visitor wrote
                assert ask("10.0.0.2, 10.0.0.1") == 503
            finally:
                runner.scheduler.release("10.0.0.1")
    finally:
        close_runner(app)


def test_request_size_limits(small_app) -> None:
    client, _ = small_app
    padding = " " * 5000
    direct = client.post("/sparql", content=COUNT_RUNS + padding, headers={"Content-Type": "application/sparql-query"})
    assert direct.status_code == 413 and "max_body_kb" in direct.text
    form = client.post("/sparql", data={"query": COUNT_RUNS + padding})
    assert form.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield COUNT_RUNS.encode()
        for _ in range(10):
            yield b" " * 1000

    chunked = client.post("/sparql", content=chunks(), headers={"Content-Type": "application/sparql-query"})
    assert chunked.status_code == 413
    long_url = client.get("/sparql", params={"query": COUNT_RUNS + " #" + "x" * 2000})
    assert long_url.status_code == 414 and "max_url_length" in long_url.text
    within = client.post("/sparql", content=COUNT_RUNS, headers={"Content-Type": "application/sparql-query",
                                                                  "Accept": "text/csv"})
    assert within.text == "n\r\n6\r\n"


# -- the result cache ----------------------------------------------------------------------------------------------


def test_the_cache_keeps_digests_not_query_texts_within_its_budget() -> None:
    cache = ResultCache(max_bytes=8 * 1024)
    generation = ("v1",)
    outcome = QueryOutcome(200, b"x" * 400)
    for i in range(20):
        big_text = f"SELECT * WHERE {{ ?s ?p ?o }} # {i} " + "y" * 5 * 2**20  # the review's 5 MB bodies
        key = cache.key(QueryJob(big_text), generation)
        assert len(key) == 32
        cache.put(key, generation, outcome)
    assert cache.bytes <= 8 * 1024
    assert cache.get(cache.key(QueryJob(big_text), generation)) is outcome  # the latest is remembered
    assert cache.get(cache.key(QueryJob(big_text), ("v2",))) is None  # another store version: a new key


def test_the_endpoint_answers_from_a_live_server_under_the_limits(disk_catalog) -> None:
    """The middleware sits in front of a real uvicorn too (TestClient skips the server's own parsing)."""
    import time

    import uvicorn

    from loopback import free_port

    app = create_app(disk_catalog, Settings({"max_body_kb": 1, "max_concurrent_queries": 1}))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if server.started:
                break
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}/sparql"
        big = httpx.post(url, content="ASK {}" + " " * 4096, headers={"Content-Type": "application/sparql-query"},
                         timeout=30)
        assert big.status_code == 413
        ok = httpx.post(url, content=COUNT_RUNS, headers={"Content-Type": "application/sparql-query",
                                                           "Accept": "text/csv"}, timeout=30)
        assert ok.text == "n\r\n6\r\n"
    finally:
        server.should_exit = True
        thread.join(10)
        close_runner(app)
