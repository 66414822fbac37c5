"""Benchmark: the overhead of `expgraph record` on a no-op command, and hashing an input (first time, cached).

Times whole processes (median of --repeat runs each), in a fresh git checkout, against a store already prepared:

- `true` alone;
- `expgraph --version`: the CLI's own start-up, which every command pays;
- `expgraph record -- true`: start-up, reading git, describing the environment, writing the run;
- `expgraph record --input big.bin -- true` with a --size MiB input, first with an empty hash cache, then cached.

    python benchmarks/record_bench.py [--repeat 7] [--size 256] [--workdir /tmp/egrecord] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

CLI = [sys.executable, "-c", "from expgraph.cli import main; main()"]


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True, timeout=600)
    return time.perf_counter() - started


def median(argv: list[str], cwd: Path, env: dict[str, str], repeat: int) -> float:
    return statistics.median(timed(argv, cwd, env) for _ in range(repeat))


def phases(repo: Path, env: dict[str, str], repeat: int) -> dict[str, float]:
    """The same `record -- true` inside one process, phase by phase (median seconds): what record itself costs
    once Python and the CLI are loaded."""
    os.environ.update(env)
    os.chdir(repo)
    from expgraph.capturing import process
    from expgraph.capturing.session import begin, ending_of, finish, hash_cache, save
    from expgraph.settings import load_settings

    settings = load_settings()
    times: dict[str, list[float]] = {"begin (git, environment)": [], "run `true`": [], "finish": [],
                                     "save (open, prepare, write, close)": []}
    for _ in range(repeat):
        hashes = hash_cache(settings)
        marks = [time.perf_counter()]
        launch = begin(argv=["true"], hashes=hashes)
        marks.append(time.perf_counter())
        outcome = process.run(["true"])
        marks.append(time.perf_counter())
        items = finish(launch, ending_of(outcome))
        marks.append(time.perf_counter())
        save(items, settings)
        marks.append(time.perf_counter())
        hashes.close()
        for name, start, end in zip(times, marks, marks[1:], strict=False):
            times[name].append(end - start)
    return {f"in process: {name}": statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--size", type=int, default=256, help="MiB of the input file")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/egrecord"))
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    output = args.output.resolve() if args.output else None  # phases() changes the working directory
    shutil.rmtree(args.workdir, ignore_errors=True)
    repo = args.workdir / "repo"
    repo.mkdir(parents=True)
    env = {**os.environ, "EXPGRAPH_STORE": str(args.workdir / "store"),
           "EXPGRAPH_HASH_CACHE": str(args.workdir / "hashes.sqlite"), "EXPGRAPH_SPOOL": str(args.workdir / "spool")}
    for command in (["init", "-q"], ["config", "user.email", "b@example.org"], ["config", "user.name", "b"]):
        subprocess.run(["git", *command], cwd=repo, check=True)
    (repo / "train.py").write_text("print('x')\n", encoding="utf-8")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=repo, check=True)
    big = args.workdir / "big.bin"  # outside the checkout: an untracked file would be hashed as part of the diff
    with open(big, "wb") as out:
        for block in range(args.size):
            out.write(os.urandom(1 << 20) if block == 0 else bytes([block % 256]) * (1 << 20))
    subprocess.run([*CLI, "record", "--", "true"], cwd=repo, env=env, check=True, capture_output=True)  # prepare
    figures = {
        "true": median(["true"], repo, env, args.repeat),
        "expgraph --version": median([*CLI, "--version"], repo, env, args.repeat),
        "expgraph record -- true": median([*CLI, "record", "--", "true"], repo, env, args.repeat),
    }
    hashing = [*CLI, "record", "--input", str(big), "--", "true"]
    first = []
    for _ in range(args.repeat):
        Path(env["EXPGRAPH_HASH_CACHE"]).unlink(missing_ok=True)
        first.append(timed(hashing, repo, env))
    figures[f"record --input {args.size} MiB, not cached"] = statistics.median(first)
    figures[f"record --input {args.size} MiB, cached"] = median(hashing, repo, env, args.repeat)
    figures.update(phases(repo, env, args.repeat))
    figures["record overhead over true"] = figures["expgraph record -- true"] - figures["true"]
    figures["record over CLI start-up"] = figures["expgraph record -- true"] - figures["expgraph --version"]
    report = {"cpus": os.cpu_count(), "load average": os.getloadavg()[0], "repeat": args.repeat,
              "seconds": {k: round(v, 3) for k, v in figures.items()}}
    text = json.dumps(report, indent=2)
    print(text)
    if output:
        output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
