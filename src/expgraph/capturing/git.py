"""The code a run executes: the commit of the enclosing git checkout, its branch and remote, and whether (and
how) the working tree differs from it."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from expgraph.capturing.hashing import HashCache
from expgraph.records import CodeVersion

_COMMIT = re.compile(r"[0-9a-f]{7,64}")


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=120, check=False)


def _out(cwd: Path, *args: str) -> str | None:
    try:
        done = _git(cwd, *args)
    except (OSError, subprocess.TimeoutExpired):  # no git on this machine
        return None
    return done.stdout.decode(errors="replace").strip() if done.returncode == 0 else None


def public_url(url: str) -> str:
    """A remote URL without the user name and password an https remote may carry (they are secrets)."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


def code_version(cwd: Path, hashes: HashCache) -> CodeVersion | None:
    """The checkout ``cwd`` lies in, or None outside git (or in a repository without commits)."""
    top = _out(cwd, "rev-parse", "--show-toplevel")
    commit = _out(cwd, "rev-parse", "--verify", "HEAD") if top else None
    if not top or not commit:
        return None
    root = Path(top)
    branch = _out(root, "symbolic-ref", "--short", "-q", "HEAD") or None  # None when detached
    remote = _out(root, "config", "--get", "remote.origin.url")
    if not remote:
        first = (_out(root, "remote") or "").split()
        remote = _out(root, "config", "--get", f"remote.{first[0]}.url") if first else None
    diff = diff_digest(root, hashes)
    return CodeVersion(commit=commit, repository=public_url(remote) if remote else None, dirty=diff is not None,
                       branch=branch, diff_digest=diff, checkout=str(root))


def diff_digest(root: Path, hashes: HashCache) -> str | None:
    """SHA-256 over the uncommitted changes (``git diff HEAD --binary``) and each untracked file's path and
    content (its digest cached as inputs are); None when the tree is clean. Ignored files are not counted."""
    tracked = _git(root, "diff", "HEAD", "--binary", "--no-color", "--no-ext-diff").stdout
    listed = _git(root, "ls-files", "--others", "--exclude-standard", "-z").stdout
    untracked = sorted(name for name in listed.decode(errors="surrogateescape").split("\0") if name)
    if not tracked and not untracked:
        return None
    digest = hashlib.sha256(tracked)
    for name in untracked:
        path = root / name
        digest.update(f"\0untracked {name} {hashes.file(path) if path.is_file() else 'link'}\n".encode(
            errors="surrogateescape"))
    return digest.hexdigest()


def commit_exists(checkout: Path, commit: str) -> bool | None:
    """Whether ``commit`` is still an object of the repository at ``checkout`` (None: no repository there)."""
    if not _COMMIT.fullmatch(commit):  # never hand git an option
        return False
    if _out(checkout, "rev-parse", "--git-dir") is None:
        return None
    return _git(checkout, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0
