"""Catalog page timings on a synthetic catalog: ``python benchmarks/web_bench.py 100000 --store DIR``.

Measures, through the real app (FastAPI TestClient, so routing, templates and JSON included):
- the median time of a run page (HTML and JSON) against the raw store lookup of the same run's statements,
  the first visit of each sampled run apart (cold caches);
- a filtered list page (runs of one project that failed), cold (first request: facet counts computed) and
  warm (facet counts cached while the graphs are unchanged), and the unfiltered run list;
- full-text searches (an error message, a parameter value, a common word): cold (before the search index is
  built: one scan per field), the index's build time, then warm (from the index);
- with ``--server``, the run page and a trivial route again through uvicorn in its own process and httpx (the
  TestClient's own cost per request is about 2 ms, a real server's about 1 ms).
Goal (issue 7): run page within a few ms of the raw lookup; list pages under 200 ms.
The store directory is reused when it already holds a catalog, so the catalog is built once.

``--dump FILE`` instead writes the HTML and JSON run pages of ``--dump-runs`` sampled runs, one JSON line each, to
check that a change leaves every page as it was: dump before and after (``PYTHONPATH=<old checkout>/src`` runs
this script on the old code) and compare the files with ``cmp``. ``--search-dump FILE`` likewise writes the
``/search`` JSON of ``SEARCHES`` (each before and after the search index is built, where there is one).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from pathlib import Path

from expgraph.settings import load_settings
from expgraph.store import EmbeddedStore
from timing import median_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=int)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--server", action="store_true", help="also measure through uvicorn and httpx")
    parser.add_argument("--dump", type=Path, help="write sampled run pages (HTML and JSON) here and stop")
    parser.add_argument("--dump-runs", type=int, default=400)
    parser.add_argument("--search-dump", type=Path, help="write /search JSON of SEARCHES here and stop")
    parser.add_argument("--search-only", action="store_true", help="measure the searches only")
    parser.add_argument("--charts-only", action="store_true", help="measure the chart, compare, dashboard and "
                        "editor routes only")
    args = parser.parse_args(argv)
    from fastapi.testclient import TestClient

    from expgraph.catalog import prepare
    from expgraph.web.app import create_app

    if not (args.store.exists() and any(args.store.iterdir())):
        from synthetic import build_store

        started = time.perf_counter()
        build_store(args.runs, args.store).close()
        print(f"built {args.runs} runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    store = prepare(EmbeddedStore(args.store))
    client = TestClient(create_app(store, load_settings(environ={})))
    base = load_settings(environ={}).base_iri
    runs = [row["r"].value for row in store.select("SELECT ?r WHERE { ?r a <https://w3id.org/expgraph#Run> }")]
    print(f"{len(runs)} runs in the store")
    if args.dump:
        dump(client, random.Random(1).sample(runs, args.dump_runs), base, args.dump)
        store.close()
        return 0
    if args.charts_only:
        charts(client, store, args.repeat)
        store.close()
        return 0
    if args.search_dump or args.search_only:
        searches(client, store, args.search_dump, args.repeat)
        store.close()
        return 0
    sample = random.Random(0).sample(runs, args.repeat)
    pages = itertools.cycle(sample)

    def raw() -> None:
        store.select(f"SELECT ?p ?o WHERE {{ <{next(pages)}> ?p ?o }}")

    def page(fmt: str) -> None:
        response = client.get("/id/" + next(pages).removeprefix(base), params={"format": fmt} if fmt else None)
        assert response.status_code == 200

    started = time.perf_counter()
    assert client.get("/").status_code == 200
    home_cold = (time.perf_counter() - started) * 1000
    home_warm = median_ms(lambda: client.get("/"), 5)
    print(f"home page: cold {home_cold:.0f} ms (builds the run and result indexes), warm median {home_warm:.1f} ms")
    page("")  # warm-up: first template compilation
    raw_ms = median_ms(raw, args.repeat)
    # The first visit of each sampled run reads its neighbourhood from disk into the caches; measured apart, or
    # whichever format goes first looks slower (the unexplained "JSON slower than HTML" of earlier figures).
    first_ms = median_ms(lambda: page(""), args.repeat)
    html_ms = median_ms(lambda: page(""), args.repeat)
    json_ms = median_ms(lambda: page("json"), args.repeat)
    trivial = median_ms(lambda: client.get("/settings.json"), args.repeat)
    print(f"run page: raw store lookup {raw_ms:.1f} ms, first visit (HTML) {first_ms:.1f} ms, then JSON "
          f"{json_ms:.1f} ms, HTML {html_ms:.1f} ms (HTML - raw = {html_ms - raw_ms:.1f} ms); "
          f"a trivial route (/settings.json) {trivial:.1f} ms")

    project = store.select("SELECT ?p WHERE { ?p a <https://w3id.org/expgraph#Project> } LIMIT 1")[0]["p"]
    failed = "https://w3id.org/expgraph/vocab/run-status/failed"
    params = {"project": project.value, "status": failed}

    def listing(query: dict[str, str]) -> None:
        assert client.get("/runs", params=query).status_code == 200

    started = time.perf_counter()
    listing(params)
    cold = (time.perf_counter() - started) * 1000
    warm = median_ms(lambda: listing(params), args.repeat)
    plain_list = median_ms(lambda: listing({}), max(3, args.repeat // 4))
    started = time.perf_counter()
    listing({"status": failed, "sort": "name"})
    other_cold = (time.perf_counter() - started) * 1000
    print(f"filtered run list (project + failed): cold {cold:.0f} ms, warm median {warm:.1f} ms; "
          f"unfiltered run list warm {plain_list:.1f} ms; another filter cold {other_cold:.0f} ms")
    searches(client, store, None, args.repeat)
    charts(client, store, args.repeat)
    store.close()
    if args.server:
        served(args.store, sample, base, args.repeat)
    return 0


def charts(client, store, repeat: int) -> None:
    """The research pages: a run page whose loss history has 100k points and its chart data (cold: parsed and
    downsampled; warm: cached), the compare page and its overlay data for 50 runs with 1k-point histories, the
    dashboard and the editor's terms. The histories are one extra import source, dropped afterwards (the synthetic
    catalog logs summaries only)."""
    from datetime import UTC, datetime, timedelta
    from urllib.parse import urlencode

    from expgraph.catalog import store_batch
    from expgraph.importers.series import summarise_steps
    from expgraph.mapping import Minter, source_graph
    from expgraph.records import ImportBatch, Run, RunStatus

    source, t0 = "/bench/chart-histories", datetime(2024, 1, 1, tzinfo=UTC)

    def history(count: int, seed: int):
        return {step: (1.0 / (1 + step * 0.001) + (seed % 7) * 0.01 + (0.3 if step % 997 == 0 else 0.0),
                       t0 + timedelta(seconds=step)) for step in range(count)}

    runs = [Run("long", "bench", RunStatus.FINISHED, name="long history",
                metrics=(summarise_steps("loss", history(100_000, 0)),))]
    runs += [Run(f"r{i}", "bench", RunStatus.FINISHED, name=f"chart run {i}",
                 metrics=(summarise_steps("loss", history(1000, i)), summarise_steps("acc", history(1000, i))))
             for i in range(50)]
    started = time.perf_counter()
    store_batch(store, ImportBatch("mlflow", source, runs=tuple(runs)), location=source)
    print(f"chart histories written (1 run of 100k points, 50 runs of 2 x 1k) in {time.perf_counter() - started:.1f} s")
    mint = Minter("mlflow", source)
    base = load_settings(environ={}).base_iri
    long_run = mint.local("run", "long").value
    fifty = [mint.local("run", f"r{i}").value for i in range(50)]

    def get(url: str, **params) -> None:
        response = client.get(url, params=params or None)
        assert response.status_code == 200, (url, response.status_code)

    figures = {}
    started = time.perf_counter()
    get("/charts/runs", run=long_run)
    figures["chart data, 100k points, cold"] = (time.perf_counter() - started) * 1000
    figures["chart data, 100k points, warm"] = median_ms(lambda: get("/charts/runs", run=long_run), repeat)
    figures["run page with charts (100k-point history), warm"] = median_ms(
        lambda: get("/id/" + long_run.removeprefix(base)), repeat)
    started = time.perf_counter()
    get("/charts/runs?" + urlencode([("run", r) for r in fifty]))
    figures["chart data, 50 runs x 2 metrics x 1k points, cold"] = (time.perf_counter() - started) * 1000
    figures["chart data, 50 runs, warm"] = median_ms(
        lambda: get("/charts/runs?" + urlencode([("run", r) for r in fifty])), repeat)
    figures["compare page, 50 runs, warm"] = median_ms(
        lambda: get("/compare?" + urlencode([("run", r) for r in fifty])), repeat)
    for url in ("/dashboard", "/editor/terms", "/sparql"):
        started = time.perf_counter()
        get(url)
        figures[f"{url} cold"] = (time.perf_counter() - started) * 1000
        figures[f"{url} warm"] = median_ms(lambda url=url: get(url), repeat)
    store.drop(source_graph("mlflow", source, base))
    for name, ms in figures.items():
        print(f"{name}: {ms:.1f} ms")


def dump(client, runs: list[str], base: str, path: Path) -> None:
    """Each run's page as HTML and as JSON, in sample order (so caches fill as they would in use)."""
    with path.open("w") as out:
        for run in runs:
            html = client.get("/id/" + run.removeprefix(base))
            data = client.get("/id/" + run.removeprefix(base), params={"format": "json"})
            assert html.status_code == data.status_code == 200, run
            out.write(json.dumps({"run": run, "html": html.text, "json": data.json()}, sort_keys=True) + "\n")
    print(f"{len(runs)} run pages written to {path}")


#: Varied searches: common words, error fragments, parameter values, case, unicode, quotes, SPARQL-looking text,
#: over-long and empty text; several match more than a field's cap (500 texts).
SEARCHES = (
    "Tried to allocate 93 MiB", "cuda OUT of memory", "0.001", "0.1", "1e-05", "loss", "the", "a", "e", "run",
    "RuntimeError", "No module named 'apex'", "shard-0", "parquet", "halve the batch", "warm-up", "AUC",
    "cifar10", "imagenet-c", "val accuracy +0.5", "Dropout 0.3", "déjà vu", "ΣΑΣ", "İstanbul", "数据",
    '"quoted"', "'", '") } } DROP ALL #', "\\", "%", "_", "  padded  ", "x" * 200, "ab" * 60, "", "zzqqxx",
)
SEARCH_TIMED = ("Tried to allocate 93 MiB", "0.001", "loss")


def searches(client, store, path: Path | None, repeat: int) -> None:
    """Time each of ``SEARCH_TIMED`` cold (no index: scans), build the search index (old code: none), then time
    them warm; with ``path``, write every search of ``SEARCHES`` cold and warm as JSON lines instead."""
    try:
        from expgraph.web.search import SEARCH
    except ImportError:  # the code before the search index
        SEARCH = None

    def ask(q: str) -> dict:
        response = client.get("/search", params={"q": q, "format": "json"})
        assert response.status_code in (200, 400), response.text
        return {"status": response.status_code, "body": response.json()}

    def build() -> float:
        started = time.perf_counter()
        if SEARCH is not None:
            web = getattr(client.app.state, "web", None)  # the app's caches; before it, a module's global
            if web is not None:
                web.search.get(SEARCH).build()
            else:
                from expgraph.web.search import SEARCH_INDEXES
                SEARCH_INDEXES.get(store, SEARCH).build()
        return (time.perf_counter() - started) * 1000

    if path is not None:
        cold = [ask(q) for q in SEARCHES]  # the first asks for the index in the background: build it here
        build()
        warm = [ask(q) for q in SEARCHES]
        with path.open("w") as out:
            for q, before, after in zip(SEARCHES, cold, warm, strict=True):
                out.write(json.dumps({"q": q, "cold": before, "warm": after}, sort_keys=True) + "\n")
        print(f"{len(SEARCHES)} searches written to {path}")
        return
    colds = {}
    for q in SEARCH_TIMED:
        started = time.perf_counter()
        ask(q)
        colds[q] = (time.perf_counter() - started) * 1000
    built = build()
    warms = {q: median_ms(lambda q=q: ask(q), max(3, repeat // 2)) for q in SEARCH_TIMED}
    print(f"search index built in {built:.0f} ms (waited for, after the cold searches)")
    for q in SEARCH_TIMED:
        print(f"search {q!r}: cold {colds[q]:.0f} ms, warm median {warms[q]:.1f} ms")


_SERVER = """import sys, uvicorn
from expgraph.settings import load_settings
from expgraph.store import EmbeddedStore
from expgraph.web.app import create_app
uvicorn.run(create_app(EmbeddedStore(sys.argv[1]), load_settings(environ={})), host="127.0.0.1",
            port=int(sys.argv[2]), log_level="warning")
"""


def served(store: Path, sample: list[str], base: str, repeat: int) -> None:
    """The run page and a trivial route through uvicorn in its own process (it opens the store, so the caller
    has closed it), requested with httpx."""
    import socket
    import subprocess

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(store), str(port)])
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            for _ in range(600):
                try:
                    http.get("/settings.json")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            pages = itertools.cycle(sample)

            def page(fmt: str) -> None:
                response = http.get("/id/" + next(pages).removeprefix(base), params={"format": fmt} if fmt else None)
                assert response.status_code == 200

            first_ms = median_ms(lambda: page(""), repeat)
            html_ms = median_ms(lambda: page(""), repeat)
            json_ms = median_ms(lambda: page("json"), repeat)
            trivial = median_ms(lambda: http.get("/settings.json"), repeat)
        print(f"through uvicorn (own process) + httpx: run page first visit {first_ms:.1f} ms, then JSON "
              f"{json_ms:.1f} ms, HTML {html_ms:.1f} ms; /settings.json {trivial:.1f} ms")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    sys.exit(main())
