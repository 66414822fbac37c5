"""How fast the W&B importer replays a long ``.wandb`` log: ``python benchmarks/wandb_log_bench.py [STEPS]``.

Writes one offline run with the real SDK (``pip install wandb``; 4 metrics per step, 200 config keys) into a
temporary directory, then times the three layers: block/chunk framing with CRC checks, protobuf parsing, and the
whole importer (replay + folding into a run record).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from expgraph.importers.wandb import WandbImporter
from expgraph.importers.wandb_log import chunks, replay

SCRIPT = """
import sys
import wandb
run = wandb.init(project="bench", id="bench001", config={f"k{i}": i for i in range(200)})
for step in range(int(sys.argv[1])):
    run.log({"loss": 1.0 / (step + 1), "acc": step / 1e6, "lr": 0.01, "grad_norm": 0.5})
run.finish()
"""


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.py"
        script.write_text(textwrap.dedent(SCRIPT))
        env = os.environ | {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DIR": tmp}
        subprocess.run([sys.executable, str(script), str(steps)], cwd=tmp, env=env, check=True)
        log = next(Path(tmp, "wandb").glob("offline-run-*/run-*.wandb"))
        data = log.read_bytes()
        started = time.perf_counter()
        payloads, _ = chunks(log, data)
        framed = time.perf_counter()
        replay(log)
        parsed = time.perf_counter()
        (run,) = [r for r in WandbImporter(str(Path(tmp, "wandb"))).records() if type(r).__name__ == "Run"]
        done = time.perf_counter()
    print(f"{steps} steps, {len(data) / 1e6:.1f} MB, {len(payloads)} records")
    print(f"framing + CRC   {framed - started:6.2f} s")
    print(f"replay (parse)  {parsed - framed:6.2f} s")
    print(f"whole importer  {done - parsed:6.2f} s  ({len(payloads) / (done - parsed):,.0f} records/s)")
    print(f"metrics: {[(m.key, m.history.count if m.history else None) for m in run.metrics]}")


if __name__ == "__main__":
    main()
