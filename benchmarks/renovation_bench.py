"""Two source trees side by side (issue #14, "benchmarks not slower"): ``python benchmarks/renovation_bench.py A B``.

A and B are checkouts (``/work/wt/before`` and the merged tree, say). Each repetition runs, for A then B (B then A
on the next, so drift of the machine's load falls on both), one worker process with ``PYTHONPATH=<tree>/src``
that measures on a fresh 10k-run synthetic catalog (``--runs``):

- **import**: writing the catalog through the import path (map, stage, swap, audit) into a new on-disk store; the
  records are generated first and not timed;
- **validate**: ``expgraph validate --format json``, the whole command;
- **each saved query** with its defaults, in-process (``load_queries``/``run_saved`` of the tree, rows read to the
  end; median of 3 after a first run), or through ``expgraph query NAME --format json`` when the tree has no such
  module; ``cli start`` is the whole ``expgraph query --list`` command (start-up, mostly);
- **run page** and **list page**, warm, web_bench's way: the app in-process (TestClient), 20 sampled run pages
  visited once, then the median of visiting them again (HTML); the run list filtered by project and status and
  the unfiltered run list, median of repeated requests after a first one.

It prints, per measurement, the median of each side over the repetitions and the B/A ratio, and writes them as
JSON (``--out``). Run it niced on a machine doing as little as possible; A vs A shows the noise.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from timing import median_ms

HERE = Path(__file__).resolve()
RUN_PAGES = 20
LIST_REPEAT = 10


def _cli(store: Path, *args: str) -> tuple[float, str]:
    """Seconds one ``expgraph`` command of the tree on the path takes, start-up included, and its output."""
    code = "import sys; from expgraph.cli import main; sys.argv[0] = 'expgraph'; main()"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, "--store", str(store), *args], capture_output=True, text=True,
                          timeout=3600, env=dict(os.environ, TZ="UTC"))
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"expgraph {' '.join(args)}: {done.stderr.strip()[-500:]}")
    return seconds, done.stdout


def _saved_queries_module() -> ModuleType | None:
    """The tree's saved-query module (``load_queries``, ``run_saved``): where it lives now or lived before; None
    (then each query is timed through the CLI) when neither exists."""
    for name in ("expgraph.sparql.saved", "expgraph.queries"):
        with contextlib.suppress(ImportError):
            module = importlib.import_module(name)
            if hasattr(module, "load_queries") and hasattr(module, "run_saved"):
                return module
    return None


def worker(runs: int, workdir: Path) -> dict[str, float]:
    """One repetition on the tree the path holds; figures in seconds (``*_ms``: milliseconds)."""
    sys.path.insert(0, str(HERE.parents[1] / "scripts"))
    from compare_outputs import synthetic_module

    synthetic = synthetic_module()
    from expgraph.catalog import prepare
    from expgraph.settings import load_settings
    from expgraph.store import EmbeddedStore

    figures: dict[str, float] = {}
    store_path = workdir / "store"
    sources = synthetic.import_sources(synthetic.make_batch(runs))
    store = prepare(EmbeddedStore(store_path))
    started = time.perf_counter()
    synthetic.write_sources(store, sources)
    figures["import"] = time.perf_counter() - started
    store.close()

    figures["validate"] = _cli(store_path, "validate", "--format", "json")[0]
    figures["cli start"], listing = _cli(store_path, "query", "--list", "--format", "json")
    saved = _saved_queries_module()
    store = prepare(EmbeddedStore(store_path))
    try:
        for entry in json.loads(listing):
            name = entry["name"]
            if saved is None:
                figures[f"query {name}"] = _cli(store_path, "query", name, "--format", "json")[0]
                continue
            query = saved.load_queries()[name]
            list(saved.run_saved(store, query))  # first run: store pages into the OS cache
            figures[f"query {name}"] = median_ms(lambda q=query: list(saved.run_saved(store, q)), 3) / 1000
    finally:
        store.close()

    from fastapi.testclient import TestClient

    from expgraph.web.app import create_app

    store = prepare(EmbeddedStore(store_path))
    try:
        settings = load_settings(environ={})
        with TestClient(create_app(store, settings)) as client:
            run_iris = sorted(row["r"].value for row in
                              store.select("SELECT ?r WHERE { ?r a <https://w3id.org/expgraph#Run> }"))
            sample = ["/id/" + iri.removeprefix(settings.base_iri)
                      for iri in random.Random(0).sample(run_iris, RUN_PAGES)]
            pages = iter(sample * (LIST_REPEAT + 1))
            for url in sample:  # first visits fill the caches
                assert client.get(url).status_code == 200, url
            figures["run page warm_ms"] = median_ms(lambda: client.get(next(pages)), RUN_PAGES)
            project = min(row["p"].value for row in
                          store.select("SELECT ?p WHERE { ?p a <https://w3id.org/expgraph#Project> }"))
            filtered = {"project": project, "status": "https://w3id.org/expgraph/vocab/run-status/failed"}
            assert client.get("/runs", params=filtered).status_code == 200
            figures["run list filtered warm_ms"] = median_ms(lambda: client.get("/runs", params=filtered),
                                                              LIST_REPEAT)
            assert client.get("/runs").status_code == 200
            figures["run list warm_ms"] = median_ms(lambda: client.get("/runs"), LIST_REPEAT)
    finally:
        store.close()
    return figures


def run_worker(tree: Path, runs: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    with tempfile.TemporaryDirectory(prefix="renovation-bench-") as workdir:
        done = subprocess.run([sys.executable, str(HERE), "--worker", str(runs), workdir], env=env,
                              capture_output=True, text=True, timeout=7200)
    if done.returncode:
        raise SystemExit(f"worker on {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(a: Path, b: Path, runs: int, repeat: int) -> dict[str, object]:
    samples: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
    for rep in range(repeat):
        order = (("A", a), ("B", b)) if rep % 2 == 0 else (("B", b), ("A", a))
        for side, tree in order:
            started = time.monotonic()
            samples[side].append(run_worker(tree, runs))
            print(f"repetition {rep + 1}/{repeat} {side}: {time.monotonic() - started:.0f} s "
                  f"{json.dumps(samples[side][-1])}", file=sys.stderr)  # the raw figures survive an interruption
    names = list(samples["A"][0])
    rows = {}
    for name in names:
        ma = statistics.median(s[name] for s in samples["A"])
        mb = statistics.median(s[name] for s in samples["B"] if name in s) if all(name in s for s in samples["B"]) \
            else float("nan")
        rows[name] = {"A": round(ma, 4), "B": round(mb, 4), "B/A": round(mb / ma, 3) if ma else None,
                      "A all": [round(s[name], 4) for s in samples["A"]],
                      "B all": [round(s[name], 4) for s in samples["B"] if name in s]}
    return {"A": str(a), "B": str(b), "runs": runs, "repeat": repeat, "measurements": rows,
            "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()}}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        print(json.dumps(worker(int(argv[1]), Path(argv[2]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="tree A (a checkout: its src/ goes on the path)")
    parser.add_argument("b", type=Path, help="tree B")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    os.nice(10)
    result = compare(args.a.resolve(), args.b.resolve(), args.runs, args.repeat)
    print(f"{'measurement':38} {'A median':>10} {'B median':>10} {'B/A':>6}   (seconds; _ms: milliseconds)")
    for name, row in result["measurements"].items():  # type: ignore[union-attr]
        print(f"{name:38} {row['A']:>10.3f} {row['B']:>10.3f} {row['B/A'] or float('nan'):>6.2f}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
