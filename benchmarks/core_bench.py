"""Core benchmark: the embedded store (on disk, in memory) beside rdflib's in-memory Graph as the reference.

For each catalog size it measures load time, peak memory (``ru_maxrss`` of a fresh subprocess per variant, so
variants do not share a heap), triples held and the latency of a few queries, one of them a ``skos:broader*``
roll-up of failure modes per project. rdflib's queries run under a time limit and are reported as "> N s"
instead of hanging. Usage::

    python benchmarks/core_bench.py                      # 1k and 10k runs
    python benchmarks/core_bench.py --runs 100000        # the big one (rdflib skipped above --rdflib-max-runs)
    python benchmarks/core_bench.py --save benchmarks/results/core.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROLOGUE = """PREFIX eg: <https://w3id.org/expgraph#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX mls: <http://www.w3.org/ns/mls#>
PREFIX dcat: <http://www.w3.org/ns/dcat#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
#: The queries timed on every variant; the same text runs on both engines.
QUERIES = {
    "status": """SELECT ?status (COUNT(?run) AS ?runs) WHERE {
        ?run a eg:Run ; eg:status/skos:notation ?status } GROUP BY ?status""",
    "rollup": """SELECT ?project ?mode (COUNT(DISTINCT ?result) AS ?results) WHERE {
        ?result a eg:NegativeResult ; eg:failureMode ?leaf ; prov:wasGeneratedBy ?run .
        ?run eg:inExperiment/eg:inProject ?project .
        ?leaf skos:broader* ?mode . ?mode skos:topConceptOf ?scheme .
    } GROUP BY ?project ?mode ORDER BY ?project DESC(?results)""",
    "rollup-path-first": """SELECT ?project ?mode (COUNT(DISTINCT ?result) AS ?results) WHERE {
        ?leaf skos:broader* ?mode . ?mode skos:topConceptOf ?scheme .
        ?result a eg:NegativeResult ; eg:failureMode ?leaf ; prov:wasGeneratedBy ?run .
        ?run eg:inExperiment/eg:inProject ?project .
    } GROUP BY ?project ?mode ORDER BY ?project DESC(?results)""",
    "drift": """SELECT ?series (COUNT(DISTINCT ?snapshot) AS ?versions) (COUNT(DISTINCT ?run) AS ?runs) WHERE {
        ?run prov:used ?snapshot . ?snapshot dcat:inSeries ?series
    } GROUP BY ?series HAVING (COUNT(DISTINCT ?snapshot) > 1)""",
    "top10": """SELECT ?run ?accuracy ?lr WHERE {
        ?run mls:hasOutput ?evaluation . ?evaluation mls:specifiedBy/rdfs:label "val_accuracy" ;
             mls:hasValue ?accuracy .
        ?run mls:hasInput ?setting . ?setting mls:specifiedBy/rdfs:label ?key ; mls:hasValue ?lr .
        FILTER(?key IN ("lr", "learning_rate"))
    } ORDER BY DESC(?accuracy) LIMIT 10""",
    "one-run": "SELECT ?run ?p ?o WHERE { ?run ?p ?o }",  # ?run is bound (pyoxigraph wants it projected)
}
QUERY_HELP = {
    "status": "runs per status",
    "rollup": "skos:broader* roll-up of failure modes per project",
    "rollup-path-first": "the same roll-up with the property path written first (rdflib keeps text order)",
    "drift": "dataset series with more than one snapshot",
    "top10": "top 10 runs by val_accuracy with their learning rate",
    "one-run": "one run's triples (bound IRI)",
}
VARIANTS = ("baseline", "records-only", "ours-disk", "ours-memory", "ours-disk-nt", "rdflib-graph")
VARIANT_HELP = {
    "baseline": "interpreter with expgraph, pyoxigraph and rdflib imported, nothing loaded",
    "records-only": "the synthetic records built in memory, nothing stored (part of the ours-disk/-memory peak)",
    "ours-disk": "embedded store on disk, written by the import path (map records, stage, swap)",
    "ours-memory": "embedded store in memory, same import path",
    "ours-disk-nt": "embedded store on disk, `load` of the N-Triples export",
    "rdflib-graph": "rdflib.Graph in memory, parse of the N-Triples export",
}
#: Rows ", union default graph": the same store queried with pyoxigraph's union of all named graphs instead of
#: the explicit list of active graphs that Store.query passes (what a registry-free fast path could gain).


class QueryTimeout(Exception):
    pass


def _alarm(seconds: float) -> None:
    def on_alarm(signum, frame):  # rdflib is pure Python, so the exception interrupts the query
        raise QueryTimeout

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _time_query(run_once, timeout: float) -> dict:
    """Median of up to 3 runs (fewer when slow); ``None`` with ``timed_out`` when one run hit the limit."""
    times, rows = [], 0
    for _ in range(3):
        _alarm(timeout)
        started = time.perf_counter()
        try:
            rows = run_once()
        except QueryTimeout:
            return {"seconds": None, "timed_out": timeout, "rows": None}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        times.append(time.perf_counter() - started)
        if sum(times) > 5:
            break
    return {"seconds": statistics.median(times), "rows": rows}


def child(variant: str, runs: int, workdir: Path, run_iri: str, timeout: float) -> dict:
    """Measure one variant in this (fresh) process and return its figures."""
    import pyoxigraph
    import rdflib

    from expgraph.catalog import load_file, prepare
    from expgraph.store import EmbeddedStore
    from synthetic import import_sources, make_batch, write_sources

    out: dict = {"variant": variant, "runs": runs}
    if variant == "baseline":
        return out | {"peak_mb": _peak_mb()}
    if variant == "records-only":
        started = time.perf_counter()
        sources = import_sources(make_batch(runs))
        return out | {"load_s": time.perf_counter() - started, "peak_mb": _peak_mb(),
                      "runs_built": sum(len(source.runs) for source in sources)}
    ntriples = workdir / f"catalog-{runs}.nt"
    if variant == "rdflib-graph":
        graph = rdflib.Graph()
        started = time.perf_counter()
        _alarm(timeout * 10)
        try:
            graph.parse(ntriples, format="nt")
        except QueryTimeout:
            return out | {"load_s": None, "load_timed_out": timeout * 10, "peak_mb": _peak_mb()}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        out |= {"load_s": time.perf_counter() - started, "peak_mb": _peak_mb(), "triples": len(graph)}
        path, run = None, rdflib.URIRef(run_iri)

        def run_query(name: str) -> int:
            bindings = {"run": run} if name == "one-run" else {}
            return len(list(graph.query(PROLOGUE + QUERIES[name], initBindings=bindings)))
    else:
        path = None if variant == "ours-memory" else workdir / variant
        if variant in ("ours-disk", "ours-memory"):
            sources = import_sources(make_batch(runs))  # records are built before the clock starts
            started = time.perf_counter()
            store = prepare(EmbeddedStore(path))
            write_sources(store, sources)
        else:
            started = time.perf_counter()
            store = prepare(EmbeddedStore(path))
            load_file(store, ntriples)
        out |= {"load_s": time.perf_counter() - started, "peak_mb": _peak_mb()}
        out["triples"] = len(store.ox)  # every stored quad: the catalog plus ontology, vocabularies, registry
        node = pyoxigraph.NamedNode(run_iri)

        def run_query(name: str) -> int:
            bindings = {"run": node} if name == "one-run" else {}
            return len(list(store.query(PROLOGUE + QUERIES[name], bindings=bindings)))
    out["queries"] = {name: _time_query(lambda n=name: run_query(n), timeout) for name in QUERIES}
    if variant != "rdflib-graph":  # the same queries on pyoxigraph's union default graph, bypassing the registry

        def run_union(name: str) -> int:
            bindings = {pyoxigraph.Variable("run"): node} if name == "one-run" else None
            return len(list(store.ox.query(PROLOGUE + QUERIES[name], use_default_graph_as_union=True,
                                           substitutions=bindings)))

        out["queries_union"] = {name: _time_query(lambda n=name: run_union(n), timeout) for name in QUERIES}
    out["peak_mb_end"] = _peak_mb()
    if path is not None:
        store.close()
        out["disk_mb"] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20
    return out


def _spawn(variant: str, runs: int, workdir: Path, run_iri: str | None, timeout: float) -> dict:
    command = [sys.executable, __file__, "--child", variant, "--runs", str(runs), "--workdir", str(workdir),
               "--run-iri", run_iri or "", "--rdflib-timeout", str(timeout)]
    limit = 30 * timeout + 3600
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        return {"variant": variant, "runs": runs, "error": f"did not finish in {limit:.0f} s"}
    if done.returncode < 0:
        return {"variant": variant, "runs": runs, "error": f"killed by signal {-done.returncode}"}
    if done.returncode != 0:
        return {"variant": variant, "runs": runs, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare_inputs(runs: int, workdir: Path, export: bool) -> str:
    """Write the N-Triples export the file-loading variants parse (if any runs); return the IRI of a run."""
    from expgraph.mapping import Minter
    from synthetic import build_store, import_sources, make_batch

    first = import_sources(make_batch(runs))[0]
    run_iri = Minter(first.tracker, first.source).run(first.runs[0].native_id).value
    if not export:
        return run_iri
    store = build_store(runs, None)
    try:
        with (workdir / f"catalog-{runs}.nt").open("wb") as stream:
            store.dump(stream, "ntriples")
    finally:
        store.close()
    return run_iri


def _fmt_seconds(entry: dict | None) -> str:
    if entry is None:
        return "-"
    if entry.get("seconds") is None:
        return f"> {entry['timed_out']:.0f} s" if entry.get("timed_out") else "-"
    seconds = entry["seconds"]
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _ratio(slow: dict | None, fast: dict | None) -> str:
    if not slow or not fast or fast.get("seconds") in (None, 0):
        return "-"
    if slow.get("seconds") is None:
        return f"> {slow['timed_out'] / fast['seconds']:.0f}x" if slow.get("timed_out") else "-"
    return f"{slow['seconds'] / fast['seconds']:.1f}x"


def print_table(runs: int, results: list[dict]) -> None:
    by_variant = {r["variant"]: r for r in results}
    columns = ["load", "peak MB", "triples", *QUERIES]
    print(f"\n## {runs:,} runs\n")
    print("| variant | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for result in results:
        if "error" in result:
            print(f"| {result['variant']} | error: {result['error']} |")
            continue
        load = {"seconds": result.get("load_s"), "timed_out": result.get("load_timed_out")}
        cells = [_fmt_seconds(load) if "load_s" in result else "-", f"{result['peak_mb']:.0f}",
                 f"{result['triples']:,}" if "triples" in result else "-"]
        cells += [_fmt_seconds(result.get("queries", {}).get(name)) for name in QUERIES]
        print(f"| {result['variant']} | " + " | ".join(cells) + " |")
        if "queries_union" in result:
            cells = ["", "", "", *[_fmt_seconds(result["queries_union"].get(name)) for name in QUERIES]]
            print(f"| {result['variant']}, union default graph | " + " | ".join(cells) + " |")
    for name in QUERIES:  # every engine must return the same number of rows, or the timing means nothing
        rows = {r["variant"]: r["queries"][name]["rows"] for r in results
                if "queries" in r and r["queries"][name].get("rows") is not None}
        if len(set(rows.values())) > 1:
            print(f"\nWARNING: {name} returned different row counts: {rows}")
    reference = by_variant.get("rdflib-graph")
    if reference and "error" not in reference:
        for ours in ("ours-memory", "ours-disk"):
            mine = by_variant.get(ours)
            if not mine or "error" in mine:
                continue
            cells = [_ratio({"seconds": reference.get("load_s"), "timed_out": reference.get("load_timed_out")},
                            {"seconds": mine["load_s"]}),
                     f"{reference['peak_mb'] / mine['peak_mb']:.1f}x", "-"]
            cells += [_ratio(reference["queries"].get(n), mine["queries"].get(n)) for n in QUERIES]
            print(f"| rdflib / {ours} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Core benchmark: embedded store vs rdflib's in-memory Graph.")
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 10000], help="catalog sizes")
    parser.add_argument("--rdflib-timeout", type=float, default=60.0, help="limit per rdflib query, seconds")
    parser.add_argument("--rdflib-max-runs", type=int, default=10000, help="skip rdflib above this size")
    parser.add_argument("--save", type=Path, help="write all figures as JSON here")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="variants to measure (default: all)")
    parser.add_argument("--child", choices=(*VARIANTS, "prepare"), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--run-iri", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "prepare":
        export = args.run_iri == "export"
        print(json.dumps({"run_iri": prepare_inputs(args.runs[0], args.workdir, export)}))
        return 0
    if args.child:
        print(json.dumps(child(args.child, args.runs[0], args.workdir, args.run_iri, args.rdflib_timeout)))
        return 0
    print("variants:\n" + "\n".join(f"- {v}: {VARIANT_HELP[v]}" for v in VARIANTS))
    print("- <ours>, union default graph: the same store, queried over pyoxigraph's union of all named graphs "
          "instead of the explicit list of active graphs Store.query passes")
    print("queries:\n" + "\n".join(f"- {q}: {QUERY_HELP[q]}" for q in QUERIES))
    print(f"(query latency: median of up to 3 runs; rdflib queries limited to {args.rdflib_timeout:.0f} s; "
          f"peak MB = ru_maxrss of the variant's own process; {os.cpu_count()} CPUs)")
    everything = []
    for runs in args.runs:
        workdir = Path(tempfile.mkdtemp(prefix=f"expgraph-bench-{runs}-"))
        try:
            print(f"\npreparing {runs:,} runs ...", file=sys.stderr)
            # in a child too: Linux carries a parent's peak RSS over into ru_maxrss of what it spawns
            chosen = [v for v in args.variants if v != "rdflib-graph" or runs <= args.rdflib_max_runs]
            export = "export" if {"ours-disk-nt", "rdflib-graph"} & set(chosen) else None
            prepared = _spawn("prepare", runs, workdir, export, args.rdflib_timeout)
            if "error" in prepared:
                raise SystemExit(f"preparing {runs} runs failed: {prepared['error']}")
            run_iri = prepared["run_iri"]
            results = []
            for variant in chosen:
                print(f"  {variant} ...", file=sys.stderr)
                results.append(_spawn(variant, runs, workdir, run_iri, args.rdflib_timeout))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print_table(runs, results)
        everything += results
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(everything, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
