"""How a query's dataset is given to pyoxigraph: the list of active graphs versus the union of all graphs.

The store answers "every active graph" with pyoxigraph's union default graph when no other graph is present (see
``EmbeddedStore._query_active``), and with the explicit list of active graphs otherwise (an import in progress or a
crash leftover). This runs every saved query both ways on the same on-disk catalog, alternating the two, and
prints median latencies and their ratio. Usage::

    python benchmarks/make_catalog.py 10000 --store /tmp/cat10k
    python benchmarks/graph_scope_bench.py /tmp/cat10k [--repeats 3] [--cap 30] [--only NAME ...] [--save FILE]

A query whose first run takes longer than ``--cap`` seconds is not repeated in that mode.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from expgraph.sparql.saved import load_queries
from expgraph.store import EmbeddedStore, Store

FAILED_RUN = """PREFIX eg: <https://w3id.org/expgraph#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?run WHERE { ?run eg:status/skos:notation "failed" } LIMIT 1"""


def timed(store: EmbeddedStore, sparql: str, union: bool) -> tuple[float, int]:
    physical = [info.version for info in store.active_graphs().values()]
    started = time.perf_counter()
    if union:  # noqa: SIM108 (the two calls read better apart)
        result = store._query_active(sparql, physical, {})
    else:  # the base class's way: the active graphs listed as the default and named graphs
        result = Store._query_active(store, sparql, physical, {})
    rows = sum(1 for _ in result)
    return time.perf_counter() - started, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", type=Path, help="an on-disk catalog written by make_catalog.py")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cap", type=float, default=30.0, help="do not repeat a query slower than this (s)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="just these saved queries")
    parser.add_argument("--save", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    store = EmbeddedStore(args.store)
    physical = [info.version for info in store.active_graphs().values()]
    assert store._is_clean(physical), "the catalog holds graphs that are not active: the union is not used"
    failed_run = store.select(FAILED_RUN)[0]["run"].value
    report: dict[str, dict[str, float | int]] = {}
    print(f"{'query':32s} {'list ms':>10} {'union ms':>10} {'ratio':>7} {'rows':>7}")
    for name, query in load_queries().items():
        if args.only and name not in args.only:
            continue
        sparql = query.bind({"run": failed_run} if name == "already-failed" else {})
        samples: dict[bool, list[float]] = {False: [], True: []}
        rows: dict[bool, int] = {}
        for attempt in range(args.repeats):
            for union in (attempt % 2 == 0, attempt % 2 != 0):  # alternate which mode goes first
                if samples[union] and samples[union][0] > args.cap:
                    continue
                seconds, rows[union] = timed(store, sparql, union)
                samples[union].append(seconds)
        if rows[False] != rows[True]:
            print(f"  {name}: row counts differ (list {rows[False]}, union {rows[True]})", file=sys.stderr)
        listed, unioned = (statistics.median(samples[mode]) * 1000 for mode in (False, True))
        report[name] = {"list_ms": round(listed, 1), "union_ms": round(unioned, 1),
                        "ratio": round(listed / unioned, 2), "rows": rows[True]}
        print(f"{name:32s} {listed:10.1f} {unioned:10.1f} {listed / unioned:6.2f}x {rows[True]:7d}", flush=True)
    ratios = [entry["ratio"] for entry in report.values()]
    print(f"median ratio {statistics.median(ratios):.2f}x, geometric mean "
          f"{statistics.geometric_mean(ratios):.2f}x over {len(ratios)} queries")
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
