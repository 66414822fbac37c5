"""How the importer contract suite breaks and escapes the W&B, TensorBoard and DVC fixtures."""

from __future__ import annotations

import tarfile
from pathlib import Path


def corrupt_wandb_log(copy: Path) -> Path:
    """Flip a byte inside the first records of a ``.wandb`` log: a checksum mismatch, not a torn tail."""
    target = sorted(copy.rglob("run-fin00001.wandb"))[0]
    data = bytearray(target.read_bytes())
    data[40] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def escape_wandb_run(copy: Path, secret: Path) -> Path:
    link = copy / "offline-run-20990101_000000-leak0001"
    link.symlink_to(secret.parent, target_is_directory=True)
    return link


def escape_wandb_file(copy: Path, secret: Path) -> Path:
    """The run's log itself replaced by a link (a W&B log that leaked would replay someone else's run)."""
    log = sorted(copy.rglob("run-fin00001.wandb"))[0]
    log.unlink()
    log.symlink_to(secret)
    return log


def corrupt_event_file(copy: Path) -> Path:
    """Flip a byte in the middle of an event file (not its last record)."""
    target = sorted((copy / "baseline").glob("events.out.tfevents.*"))[0]
    data = bytearray(target.read_bytes())
    data[60] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def escape_event_file(copy: Path, secret: Path) -> Path:
    """A real event file outside the log directory (a scalar tagged "TOP SECRET"), linked into a run folder next
    to that run's own event file: the review saw the importer warn "skipped" and then read it anyway."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(secret.parent / "secret-logs"))
    value = summary_pb2.Summary.Value(tag="TOP SECRET", simple_value=42.0)
    writer.add_event(event_pb2.Event(wall_time=1.0e9, step=1, summary=summary_pb2.Summary(value=[value])))
    writer.close()
    (outside,) = (secret.parent / "secret-logs").glob("events.out.tfevents.*")
    link = copy / "baseline" / "events.out.tfevents.9.leak"
    link.symlink_to(outside)
    return link


def dvc_source(copy: Path) -> str:
    """The fixture is a tarball of a git + DVC repository: unpack it once into the copy."""
    repo = copy / "repo"
    if not repo.exists():
        with tarfile.open(copy / "repo.tar.gz") as tar:
            tar.extractall(copy, filter="data")
    return str(repo)


def corrupt_dvc_config(copy: Path) -> Path:
    target = Path(dvc_source(copy)) / ".dvc" / "config"
    target.write_text(target.read_text(encoding="utf-8") + "[core\n", encoding="utf-8")
    return target


def escape_dvc_params(copy: Path, secret: Path) -> Path:
    """The workspace's params.yaml replaced by a link: DVC itself would read it."""
    params = Path(dvc_source(copy)) / "params.yaml"
    params.unlink()
    params.symlink_to(secret)
    return params
