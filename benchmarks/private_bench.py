"""Pages with a private project: ``python benchmarks/private_bench.py 10000 --store DIR [--json FILE]``.

Restricts one project of a synthetic catalog, then times the same pages (through the real app, FastAPI
TestClient, the team gate included) for an admin, who reads every graph (the store's fast path over the union of
all graphs), and for a reader, whose scope hides the project's graphs (the visible versions listed as the
query's dataset, and page caches of its own). Cold is the first request of each caller (its caches empty), warm
the median of ``--repeat`` more. The catalog is written as one import source per project (so the restricted
project hides its own graph only); the store directory is reused when it holds a catalog.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from functools import partial
from pathlib import Path

from expgraph.settings import load_settings
from expgraph.store import EmbeddedStore
from timing import median_ms


def fetch(client, path: str, params: dict[str, str], headers: dict[str, str]) -> None:
    """One request, which must succeed."""
    client.get(path, params=params, headers=headers).raise_for_status()


def visit_next(client, paths, headers: dict[str, str]) -> None:
    fetch(client, next(paths), {}, headers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=int)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    from fastapi.testclient import TestClient

    from expgraph.catalog import prepare
    from expgraph.team import projects
    from expgraph.team.tokens import TokenStore
    from expgraph.web.app import create_app

    fresh = not (args.store.exists() and any(args.store.iterdir()))
    store = prepare(EmbeddedStore(args.store))
    if fresh:  # one source per project at any size, so that a restricted project hides its own graph only
        from synthetic import make_batch, split_by_project, write_sources

        write_sources(store, list(split_by_project(make_batch(args.runs, 0))))
    settings = load_settings(environ={})
    base = settings.base_iri
    tokens = TokenStore.beside(args.store)
    secrets = {name: tokens.create(f"{name}-{time.time_ns()}", role) for name, role in
               (("admin", "admin"), ("reader", "reader"))}
    listed = store.select("SELECT ?p WHERE { ?p a <https://w3id.org/expgraph#Project> } ORDER BY ?p")
    hidden, shown = listed[0]["p"], listed[1]["p"]
    projects.restrict(store, hidden, agent="bench", client="local", base=base)
    visible_runs = [row["r"].value for row in store.select(
        f"SELECT ?r WHERE {{ ?r <https://w3id.org/expgraph#inExperiment>/<https://w3id.org/expgraph#inProject> "
        f"<{shown.value}> }}")]
    sample = random.Random(0).sample(visible_runs, min(args.repeat, len(visible_runs)))
    failed = "https://w3id.org/expgraph/vocab/run-status/failed"
    pages = {
        "home": ("/", {}),
        "run list": ("/runs", {}),
        "filtered run list": ("/runs", {"project": shown.value, "status": failed}),
        "search": ("/search", {"q": "out of memory"}),
        "saved query failures-by-mode": ("/queries/failures-by-mode", {"format": "json"}),
    }
    figures: dict[str, dict[str, float]] = {}
    client = TestClient(create_app(store, settings))
    try:
        for caller, secret in secrets.items():
            headers = {"Authorization": f"Bearer {secret}"}
            for title, (path, params) in pages.items():
                request = partial(fetch, client, path, params, headers)
                cold, warm = median_ms(request, 1), median_ms(request, args.repeat)
                figures.setdefault(title, {}).update({f"{caller} cold ms": round(cold, 1),
                                                      f"{caller} warm ms": round(warm, 1)})
            visit = partial(visit_next, client, iter(["/id/" + run.removeprefix(base) for run in sample] * 2),
                            headers)  # each run's page once (cold), then again (warm)
            first, again = median_ms(visit, len(sample)), median_ms(visit, len(sample))
            figures.setdefault("run page", {}).update({f"{caller} cold ms": round(first, 1),
                                                       f"{caller} warm ms": round(again, 1)})
    finally:
        client.app.state.web.close()
        projects.unrestrict(store, hidden, agent="bench", client="local", base=base)
        store.close()
    width = max(len(title) for title in figures)
    print(f"{args.runs} runs; project <{hidden.value}> restricted; admin reads all, reader within its scope")
    for title, row in figures.items():
        print(f"{title:<{width}}  " + "  ".join(f"{key} {value:>8.1f}" for key, value in row.items()))
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "pages": figures}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
