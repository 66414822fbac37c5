"""Capture runs as they launch: ``expgraph record -- CMD`` and the ``capture()`` context manager.

The code (commit, branch, remote, dirty state), the inputs (SHA-256, cached), the environment and how the run
ended are recorded when it happens, instead of being reconstructed from a tracker later. See ``session`` for the
path a captured run takes into the catalog.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime

from expgraph.capturing.process import STDERR_TAIL
from expgraph.capturing.session import RUN_ID_VARIABLE, Ending, Launch, begin, finish, hash_cache, save
from expgraph.importers.base import environment_set
from expgraph.records import RunStatus
from expgraph.settings import load_settings


@contextlib.contextmanager
def capture(*, project: str | None = None, experiment: str | None = None,
            inputs: Sequence[str | os.PathLike[str]] = (), outputs: Sequence[str | os.PathLike[str]] = (),
            params: Mapping[str, object] | None = None, store: str | None = None,
            endpoint: str | None = None) -> Iterator[Launch]:
    """Record the block as one run, for notebooks and scripts: code, inputs and environment when it starts,
    outputs and how it ended when it ends. An exception marks it failed (with the traceback as its error text)
    and is raised on; Ctrl+C marks it killed by SIGINT. MLflow runs started inside are linked to it. The store is
    the settings' (``EXPGRAPH_STORE``...) unless given; when it cannot be written the run is spooled.

    ``with expgraph.capture(inputs=["data/train.csv"]) as run: ...`` (``run.run_id`` names it)."""
    settings = load_settings({"store": store, "endpoint": endpoint})
    hashes = hash_cache(settings)
    launch = begin(inputs=inputs, params=params, project=project, experiment=experiment, hashes=hashes)
    names = (RUN_ID_VARIABLE, "MLFLOW_RUN_CONTEXT", "WANDB_RUN_ID")
    linked = {name: value for name, value in launch.environ(os.environ).items() if name in names}
    ending = None
    try:
        with environment_set(linked):  # restored before the run is saved
            try:
                yield launch
            except BaseException as error:
                ending = _ending_of(error)
                raise
    finally:
        try:
            ending = ending or Ending(datetime.now(UTC), RunStatus.FINISHED, peak_memory=_peak())
            saved = save(finish(launch, ending, outputs), settings)
            if saved.spooled:
                print(f"expgraph: run {saved.run_id} kept in {saved.spooled} ({saved.reason}); "
                      "write it with `expgraph record --flush`", file=sys.stderr)
        finally:
            hashes.close()


def _peak() -> int:
    """This process's peak resident memory (since it started: the block shares the process) in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _ending_of(error: BaseException) -> Ending:
    ended = datetime.now(UTC)
    text = "".join(traceback.format_exception(error))[-STDERR_TAIL:]
    if isinstance(error, KeyboardInterrupt):
        return Ending(ended, RunStatus.KILLED, signal=signal.SIGINT.name, error_text=text, peak_memory=_peak())
    if isinstance(error, SystemExit):
        code = error.code if isinstance(error.code, int) else (0 if error.code is None else 1)
        status = RunStatus.FINISHED if code == 0 else RunStatus.FAILED
        return Ending(ended, status, exit_code=code, error_text=text if code else None, peak_memory=_peak())
    return Ending(ended, RunStatus.FAILED, error_text=text, peak_memory=_peak())


__all__ = ["capture"]
