"""The environment a run executes in: Python and its installed distributions, lock files, container image, OS,
CPU, GPU and host. Described as ``eg:Environment``, a node shared by every run with the same description."""

from __future__ import annotations

import inspect
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from expgraph.capturing.hashing import HashCache
from expgraph.records import Artifact, Checksum, Environment

#: Lock and requirements files looked for in the working directory and at the top of the git checkout.
LOCK_PATTERNS = ("uv.lock", "poetry.lock", "Pipfile.lock", "pdm.lock", "requirements*.txt", "environment.yml",
                 "environment.yaml", "conda-lock.yml")

def distributions() -> list[str]:
    """The installed distributions as sorted "name==version", read from the ``.dist-info`` / ``.egg-info`` folder
    names on ``sys.path`` (the first of a name wins, as for imports): parsing every METADATA file instead, as
    ``importlib.metadata`` does, costs seconds in a large environment, at every captured launch."""
    import os
    import sys

    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            stem, dot, suffix = folder.rpartition(".")
            if not dot or suffix not in ("dist-info", "egg-info"):
                continue
            name, _, version = stem.partition("-")
            version = version.split("-")[0]  # egg-info: name-version-pyX.Y
            key = name.lower().replace("_", "-").replace(".", "-")
            if name and version and key not in found:
                found[key] = f"{key}=={version}"
    return sorted(found.values())


def python_facts(interpreter: str | None = None) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(version, executable, "name==version" distributions) of ``interpreter``, or of this one when None."""
    if interpreter is None or Path(interpreter).absolute() == Path(sys.executable).absolute():  # not resolved: a
        # venv's python links to the system one, whose distributions differ
        return platform.python_version(), sys.executable, tuple(distributions())
    # the same, asked of the command's interpreter (-I: nothing of the working directory is imported)
    probe = (inspect.getsource(distributions) + "import json, platform, sys\n"
             "print(json.dumps([platform.python_version(), sys.executable, distributions()]))\n")
    done = subprocess.run([interpreter, "-I", "-c", probe], capture_output=True, timeout=120, check=True)
    version, executable, packages = json.loads(done.stdout)
    return version, executable, tuple(packages)


def interpreter_of(argv: list[str]) -> str | None:
    """The Python interpreter a command runs (``python train.py``, ``python3.12 -m x``), or None."""
    if argv and Path(argv[0]).name.startswith("python"):
        return shutil.which(argv[0])
    return None


def lock_files(folders: list[Path], hashes: HashCache) -> tuple[Artifact, ...]:
    found: dict[Path, Artifact] = {}
    for folder in folders:
        for pattern in LOCK_PATTERNS:
            for path in sorted(folder.glob(pattern)):
                if path.is_file() and path.resolve() not in found:
                    found[path.resolve()] = Artifact(path=path.name, location=str(path.resolve()),
                                                     checksum=Checksum("sha256", hashes.file(path)),
                                                     size=path.stat().st_size)
    return tuple(found.values())


def container_image() -> str | None:
    """The image a container was started from, where the runtime says so (podman writes /run/.containerenv;
    ``EXPGRAPH_CONTAINER_IMAGE`` names it for the others, such as Docker, which tells a container nothing)."""
    if os.environ.get("EXPGRAPH_CONTAINER_IMAGE"):
        return os.environ["EXPGRAPH_CONTAINER_IMAGE"]
    try:
        text = Path("/run/.containerenv").read_text(encoding="utf-8")
    except OSError:
        return None
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    image, digest = values.get("image", "").strip('"'), values.get("imageid", "").strip('"')
    return f"{image}@sha256:{digest}" if image and digest else (image or None)


def cpu() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return platform.processor() or None


def gpu() -> str | None:
    """The GPUs and driver nvidia-smi reports, or None when it is absent or does not answer."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        done = subprocess.run([smi, "--query-gpu=name,driver_version", "--format=csv,noheader"],
                              capture_output=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [line.strip() for line in done.stdout.decode(errors="replace").splitlines() if line.strip()]
    return "; ".join(lines) or None


def capture_environment(folders: list[Path], hashes: HashCache, interpreter: str | None = None) -> Environment:
    try:
        version, executable, packages = python_facts(interpreter)
    except (OSError, subprocess.SubprocessError, ValueError):  # the command's interpreter did not answer
        version, executable, packages = None, interpreter, ()
    return Environment(
        python_version=version,
        packages=packages,
        container_image=container_image(),
        hostname=socket.gethostname(),
        operating_system=platform.platform(),
        executable=executable,
        cpu=cpu(),
        gpu=gpu(),
        lock_files=lock_files(folders, hashes),
    )
