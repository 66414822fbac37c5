"""Write the Sacred fixture store with Sacred's own FileStorageObserver: ``python tests/fixtures/sacred/generate.py``.

Two experiments, one run per status Sacred knows (COMPLETED, FAILED, INTERRUPTED, TIMEOUT, QUEUED) and a RUNNING
run left behind by really killing (SIGKILL) the process running it: its heartbeat goes stale.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from sacred import Experiment
from sacred.observers import FileStorageObserver
from sacred.utils import TimeoutInterrupt

HERE = Path(__file__).resolve().parent
STORE = HERE / "runs"
DATA = HERE / "data"


def mnist() -> Experiment:
    ex = Experiment("mnist-mlp", save_git_info=True)
    ex.observers.append(FileStorageObserver(str(STORE)))

    @ex.config
    def config():
        optim = {"lr": 0.1, "momentum": 0.9, "schedule": {"kind": "cosine", "warmup": 5}}  # noqa: F841
        model = {"layers": [256, 128], "activation": "relu"}  # noqa: F841
        epochs = 3  # noqa: F841
        outcome = "ok"  # noqa: F841

    @ex.main
    def train(_run, optim, epochs, outcome):
        with _run.open_resource(str(DATA / "train.csv")) as handle:
            handle.read()
        for step in range(epochs):
            loss = 1.0 / (step + 1) if outcome != "nan" or step < 1 else math.nan
            _run.log_scalar("loss", loss, step)
            _run.log_scalar("accuracy", 0.5 + step / 10, step)
        _run.log_scalar("accuracy", 0.75, epochs - 1)  # a second value at the same step: the newer wins
        if outcome == "nan":
            raise FloatingPointError("loss became nan at step 1")
        if outcome == "oom":
            raise RuntimeError("CUDA out of memory. Tried to allocate 1.50 GiB")
        if outcome == "interrupt":
            raise KeyboardInterrupt
        if outcome == "timeout":
            raise TimeoutInterrupt("wall-clock budget of 1 s exceeded")
        if outcome == "hang":
            print("started", flush=True)
            time.sleep(3600)
        _run.add_artifact(str(DATA / "model.txt"), "model.txt")
        return 0.75

    return ex


def unicode_experiment() -> Experiment:
    ex = Experiment("ünïcode-實驗", save_git_info=False)
    ex.observers.append(FileStorageObserver(str(STORE)))

    @ex.config
    def config():
        学习率 = 0.01  # noqa: F841
        seed = 1234  # noqa: F841

    @ex.main
    def main(_run, 学习率):
        _run.log_scalar("准确率", 0.9, 0)
        return 学习率

    return ex


def run_quietly(ex: Experiment, **updates) -> None:
    with contextlib.suppress(FloatingPointError, RuntimeError, KeyboardInterrupt, TimeoutInterrupt):
        ex.run(config_updates=updates, options={"--loglevel": "ERROR"})


def main() -> None:
    os.chdir(HERE)  # Sacred stores the main file relative to the working directory
    if sys.argv[1:] == ["--hang"]:
        mnist().run(config_updates={"outcome": "hang"}, options={"--loglevel": "ERROR"})
        return
    shutil.rmtree(STORE, ignore_errors=True)
    DATA.mkdir(exist_ok=True)
    (DATA / "train.csv").write_text("x,y\n1,2\n3,4\n")
    (DATA / "model.txt").write_text("weights: [0.1, 0.2]\n")
    ex = mnist()
    run_quietly(ex, seed=1)
    run_quietly(ex, seed=2, outcome="nan")
    run_quietly(ex, seed=3, outcome="oom", optim={"lr": 3.0})
    run_quietly(ex, seed=4, outcome="interrupt")
    run_quietly(ex, seed=5, outcome="timeout")
    ex.run(config_updates={"seed": 6}, options={"--queue": True, "--loglevel": "ERROR"})
    child = subprocess.Popen([sys.executable, __file__, "--hang"], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    child.stdout.readline()
    child.send_signal(signal.SIGKILL)
    child.wait()
    run_quietly(unicode_experiment())


if __name__ == "__main__":
    main()
