"""Copy the real-tracker fixtures the demo bundles from tests/fixtures/ into src/expgraph/examples/.

Usage::

    python scripts/copy_demo_examples.py            # copy every source src/expgraph/examples/examples.toml lists
    python scripts/copy_demo_examples.py --check    # exit 1 if a bundled copy differs from its fixture

The fixtures are written by the real trackers (each folder's generate.py); the demo ships a copy as package data
so that an installed wheel can build the demo catalog without the test tree.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = ROOT / "src" / "expgraph" / "examples"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "generate.py")


def _same(left: Path, right: Path) -> bool:
    if left.is_file() or right.is_file():
        return left.is_file() and right.is_file() and filecmp.cmp(left, right, shallow=False)
    compared = filecmp.dircmp(left, right, ignore=["__pycache__", "generate.py"])
    if compared.left_only or compared.right_only or compared.diff_files or compared.funny_files:
        return False
    return all(_same(left / name, right / name) for name in compared.common_dirs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Copy the demo's example sources from tests/fixtures/.")
    parser.add_argument("--check", action="store_true", help="only report copies that differ from the fixtures")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from expgraph.demo import example_sources

    stale = 0
    for source in example_sources(EXAMPLES):
        if not source.fixture:
            continue
        origin, target = FIXTURES / source.fixture, EXAMPLES / source.path
        if not origin.exists():
            print(f"skipped {source.tracker}: no fixture at {origin.relative_to(ROOT)}")
            continue
        if args.check:
            if not target.exists() or not _same(origin, target):
                print(f"{target.relative_to(ROOT)} differs from {origin.relative_to(ROOT)}")
                stale += 1
            continue
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=IGNORE)
        else:
            shutil.copy2(origin, target)
        print(f"copied {origin.relative_to(ROOT)} -> {target.relative_to(ROOT)}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
