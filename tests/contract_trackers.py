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


def escape_wandb_run(copy: Path, secret: Path) -> None:
    (copy / "offline-run-20990101_000000-leak0001").symlink_to(secret.parent, target_is_directory=True)


def corrupt_event_file(copy: Path) -> Path:
    """Flip a byte in the middle of an event file (not its last record)."""
    target = sorted((copy / "baseline").glob("events.out.tfevents.*"))[0]
    data = bytearray(target.read_bytes())
    data[60] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def escape_event_file(copy: Path, secret: Path) -> None:
    (copy / "leak").mkdir()
    (copy / "leak" / "events.out.tfevents.1.leak").symlink_to(secret)


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
