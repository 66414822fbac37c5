"""Map every tracker fixture under tests/fixtures/ to N-Triples (mapper's order), one file per source.

Refactoring an importer or the mapper must not change what an import writes. Run this with the old code and the
new code on the same fixture paths (IRIs derive from a source's absolute path) and compare the folders:

    PYTHONPATH=/tmp/before/src python scripts/fixture_triples.py /tmp/out-before
    PYTHONPATH=$PWD/src        python scripts/fixture_triples.py /tmp/out-after
    diff -r /tmp/out-before /tmp/out-after

The imports use a fixed "now" for liveness and the shipped failure rules, so the output depends on the code and
the fixtures only. A source the installed trackers cannot read is written as its one-line error instead.
"""

from __future__ import annotations

import argparse
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph

from expgraph import catalog
from expgraph.failures import FailureClassifier
from expgraph.importers import IMPORTERS, Collector, build_batch
from expgraph.importers.base import MissingDependency, SourceError
from expgraph.mapping import batch_statements
from expgraph.records import Liveness
from expgraph.store import open_store

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
#: (output name, tracker, source relative to the fixtures; "{fixtures}" and "{unpacked}" are filled in)
SOURCES = [
    ("mlflow-file", "mlflow", "{fixtures}/mlflow/mlruns"),
    ("mlflow-sqlite", "mlflow", "sqlite:///{fixtures}/mlflow/sqlite/mlflow.db"),
    ("mlflow-sqlite-2.16", "mlflow", "sqlite:///{fixtures}/mlflow/sqlite-2.16/mlflow.db"),
    ("sacred", "sacred", "{fixtures}/sacred/runs"),
    ("records-yaml", "records", "{fixtures}/records/negative-results.yaml"),
    ("records-json", "records", "{fixtures}/records/negative-results.json"),
    ("records-csv", "records", "{fixtures}/records/negative-results.csv"),
    ("wandb", "wandb", "{fixtures}/wandb/wandb"),
    ("wandb-sdk-0.16", "wandb", "{fixtures}/wandb/sdk-0.16/wandb"),
    ("tensorboard", "tensorboard", "{fixtures}/tensorboard/logdir"),
    ("dvc", "dvc", "{unpacked}/dvc/repo"),
]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def write_all(out: Path, unpacked: Path) -> list[str]:
    """Write ``out/NAME.nt`` per source; the names written."""
    out.mkdir(parents=True, exist_ok=True)
    if not (unpacked / "dvc" / "repo").exists():
        (unpacked / "dvc").mkdir(parents=True, exist_ok=True)
        with tarfile.open(FIXTURES / "dvc" / "repo.tar.gz") as tar:
            tar.extractall(unpacked / "dvc", filter="data")
    store = open_store(None)
    catalog.prepare(store)
    classifier = FailureClassifier.from_store(store)
    names = []
    for name, tracker, template in SOURCES:
        source = template.format(fixtures=FIXTURES, unpacked=unpacked)
        try:
            batch = build_batch(IMPORTERS[tracker](source, collector=Collector()), classifier, Liveness(NOW))
            text = "".join(f"{statement} .\n" for statement in batch_statements(batch))  # in the mapper's order
            list(pyoxigraph.parse(text, format=pyoxigraph.RdfFormat.N_TRIPLES))  # well-formed, or fail here
        except (SourceError, MissingDependency) as error:
            text = f"# not imported: {error}\n"
        (out / f"{name}.nt").write_text(text, encoding="utf-8")
        names.append(name)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for one NAME.nt per fixture source")
    parser.add_argument("--unpacked", type=Path, default=Path("/tmp/expgraph-fixture-triples"),
                        help="where packed fixtures (DVC's repository) are unpacked; the same path before and after")
    args = parser.parse_args()
    for name in write_all(args.out, args.unpacked):
        print(name, (args.out / f"{name}.nt").read_text(encoding="utf-8").count("\n"), "statements")


if __name__ == "__main__":
    main()
