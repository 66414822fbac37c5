"""DVC experiments, read through DVC's Python API (what ``dvc exp show --json --all-commits`` prints).

Every experiment is a run (workspace runs, queue runs that succeeded or failed, and queued ones); the baseline
commit it branched from is its experiment and its code version. Executor states map as ``success``/none →
finished, ``failed``, ``queued``, ``running``. Failed and queued experiments show metrics and outputs copied from
the workspace or the baseline, which they did not produce: those are dropped (a warning says so). DVC reports
return code 255 for a failed stage whatever the script returned; the script's own code is taken from DVC's
"exited with N" line in the run log when the log is there. ``dvc.lock`` deps with an md5 are the datasets
(source files excepted), outs the artifacts.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from expgraph.importers.base import (
    Importer,
    Record,
    SourceError,
    flatten,
    malformed_as_source_error,
    map_status,
    require,
)
from expgraph.records import (
    Artifact,
    Checksum,
    CodeVersion,
    DatasetSnapshot,
    Experiment,
    MetricValue,
    ParameterSetting,
    Project,
    Run,
    RunStatus,
)

STATES = {
    "SUCCESS": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "QUEUED": RunStatus.QUEUED,
    "RUNNING": RunStatus.RUNNING,
}
#: Dependencies with these suffixes are the pipeline's code, not data.
CODE_SUFFIXES = {".py", ".ipynb", ".r", ".sh", ".jl", ".m", ".js", ".ts", ".scala", ".java", ".cpp", ".c"}
#: Folders of a repository not searched for links leaving it: git's and DVC's content-addressed object stores.
_NOT_WALKED = {(".git", "objects"), (".dvc", "cache")}
EXITED = re.compile(r"exited with (-?\d+)")
ERROR_LINES = 30


def _time(value: Any) -> datetime | None:
    """DVC's timestamps are naive local times (``datetime.fromtimestamp``): make them aware, in UTC."""
    if not value:
        return None
    return datetime.fromisoformat(str(value)).astimezone(UTC)


class DvcImporter(Importer):
    """Import DVC experiments (succeeded, failed, queued) from a git + DVC repository."""

    tracker = "dvc"
    source_help = "A git repository with DVC experiments."

    def show(self, root: Path) -> tuple[list[dict[str, Any]], str | None]:
        """The JSON ``dvc exp show --json --all-commits`` prints, via DVC's Python API (and the git remote)."""
        require("dvc", "dvc")
        from dvc.config import ConfigError
        from dvc.exceptions import DvcException
        from dvc.repo import Repo
        from scmrepo.exceptions import SCMError

        if not (root / ".dvc").is_dir():
            raise SourceError(root, "not a DVC repository (no .dvc directory)")

        class ReadOnlyRepo(Repo):
            """DVC writes into ``.dvc/tmp`` even to show experiments (a lock, a birth-time file, a cache of shown
            experiments): it gets a private copy of that folder, so that the user's repository stays untouched."""

            def __init__(self, root_dir: str, scratch: str) -> None:
                self._scratch = scratch
                super().__init__(root_dir)

            @property
            def tmp_dir(self) -> str:  # type: ignore[override]
                return self._scratch

            def _ignore(self) -> None:
                """DVC makes sure its own folders are git-ignored, writing ``.gitignore`` if need be: not on a read."""

        # DVC reads the working tree itself and follows links: one leading outside the repository is refused
        for link in self.guard.links_leaving(skip=lambda parent, name: (parent, name) in _NOT_WALKED):
            raise SourceError(link, f"links outside the repository {root}; not imported (DVC would read it)")
        try:
            with tempfile.TemporaryDirectory(prefix="expgraph-dvc-") as scratch, \
                    ReadOnlyRepo(str(root), self._private_tmp(root, Path(scratch))) as repo:
                states = repo.experiments.show(all_commits=True)
                data = [state.dumpd() for state in states]
                try:
                    remote: str | None = repo.scm.get_remote_url("origin")
                except SCMError:
                    remote = None
        except ConfigError as error:
            raise SourceError(root / ".dvc" / "config", f"DVC cannot read its config: {error}") from None
        except DvcException as error:
            raise SourceError(root, f"DVC cannot read the experiments: {error}") from None
        return json.loads(json.dumps(data, default=str)), remote

    @staticmethod
    def _private_tmp(root: Path, scratch: Path) -> str:
        """A copy of the repository's ``.dvc/tmp`` (queued and failed experiments live there) in ``scratch``."""
        copy = scratch / "tmp"
        if (root / ".dvc" / "tmp").is_dir():
            shutil.copytree(root / ".dvc" / "tmp", copy, symlinks=True, ignore=shutil.ignore_patterns("lock"))
        else:
            copy.mkdir()
        return str(copy)

    def records(self) -> Iterator[Record]:
        root = self.source_dir()
        rows, remote = self.show(root)
        baselines = [row for row in rows if row.get("rev") != "workspace"]
        project = root.name
        yield Project(project)
        total = sum(len(row.get("experiments") or []) for row in baselines)
        done = 0
        for baseline in baselines:
            experiments = baseline.get("experiments") or []
            if not experiments:
                continue
            rev = baseline["rev"]
            yield Experiment(native_id=rev, name=f"{baseline.get('name') or rev[:7]} ({rev[:7]})", project=project)
            for experiment in experiments:
                for exp_rev in experiment.get("revs") or []:
                    with malformed_as_source_error(root):
                        run = self.to_run(root, baseline, experiment, exp_rev, remote)
                    yield run
                done += 1
                self.progress(done, total)

    def to_run(self, root: Path, baseline: dict[str, Any], experiment: dict[str, Any], row: dict[str, Any],
               remote: str | None) -> Run:
        executor = experiment.get("executor") or {}
        state = executor.get("state")
        status = RunStatus.FINISHED if state is None else map_status(state, STATES)
        name = experiment.get("name") or row.get("name") or row["rev"]
        data = row.get("data") or {}
        produced = status is RunStatus.FINISHED
        if not produced and (data.get("metrics") or data.get("outs")):
            self.collector.warn(f"{root}: experiment {name} is {status.value}: its metrics and outputs are the "
                                "workspace's, not its own; not attached")
        local = executor.get("local") or {}
        log_text = self.run_log(root, local.get("log"))
        exit_code = local.get("returncode")
        if log_text and (found := EXITED.findall(log_text)):
            exit_code = int(found[-1])
        error = row.get("error") or {}
        error_text = None
        if status is RunStatus.FAILED:
            lines = (log_text or "").strip().splitlines()[-ERROR_LINES:]
            error_text = "\n".join(lines) or error.get("msg") or "DVC experiment failed"
        params = [ParameterSetting(f"{file}:{key}" if file != "params.yaml" else key,
                                   json.dumps(value) if isinstance(value, list) else value)
                  for file, content in sorted((data.get("params") or {}).items())
                  for key, value in flatten(content.get("data") or {}) if value is not None]
        return Run(
            native_id=name,
            experiment_id=baseline["rev"],
            status=status,
            name=name,
            ended=_time(data.get("timestamp")) if produced else None,
            params=tuple(params),
            metrics=self.metrics(data) if produced else (),
            datasets=self.datasets(data) if status is not RunStatus.QUEUED else (),
            artifacts=self.artifacts(data) if produced else (),
            code=CodeVersion(baseline["rev"], repository=remote, branch=baseline.get("name")),
            tags={"dvc.rev": row["rev"]},
            error_text=error_text,
            exit_code=exit_code if status in (RunStatus.FINISHED, RunStatus.FAILED) else None,
        )

    def run_log(self, root: Path, log: str | None) -> str | None:
        """The experiment's console log; recorded as an absolute path on the machine that ran it."""
        if not log:
            return None
        parts = PurePosixPath(log).parts
        if ".dvc" not in parts:
            return None
        relative = PurePosixPath(*parts[parts.index(".dvc"):])
        path = root / relative
        data = self.guard.read_bytes(path) if path.is_file() else None
        return None if data is None else data.decode("utf-8", errors="replace")

    @staticmethod
    def metrics(data: dict[str, Any]) -> tuple[MetricValue, ...]:
        metrics = []
        for file, content in sorted((data.get("metrics") or {}).items()):
            values = dict(flatten(content.get("data") or {}))
            step = values.pop("step", None)
            for key, value in values.items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                metrics.append(MetricValue(key=key if file.endswith("metrics.json") else f"{file}:{key}",
                                           value=float(value), step=step if isinstance(step, int) else None))
        return tuple(metrics)

    @staticmethod
    def datasets(data: dict[str, Any]) -> tuple[DatasetSnapshot, ...]:
        found = []
        for path, info in sorted((data.get("deps") or {}).items()):
            if PurePosixPath(path).suffix.lower() in CODE_SUFFIXES or not (info or {}).get("hash"):
                continue
            digest = str(info["hash"]).removesuffix(".dir")
            found.append(DatasetSnapshot(name=path, checksum=Checksum("md5", digest), version=digest,
                                         location=path, context="dependency"))
        return tuple(found)

    @staticmethod
    def artifacts(data: dict[str, Any]) -> tuple[Artifact, ...]:
        found = []
        for path, info in sorted((data.get("outs") or {}).items()):
            digest = str((info or {}).get("hash") or "").removesuffix(".dir")
            found.append(Artifact(path=path, checksum=Checksum("md5", digest) if digest else None,
                                  size=(info or {}).get("size"), location=path))
        return tuple(found)
