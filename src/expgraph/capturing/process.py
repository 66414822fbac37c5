"""Running the captured command: output passes through live, signals are forwarded, and what is needed to say
how it ended is kept (exit code or signal, the last 64 KiB of stderr, peak memory)."""

from __future__ import annotations

import collections
import contextlib
import os
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

#: How much of the end of stderr is kept as the run's error text.
STDERR_TAIL = 64 * 1024
#: Signals passed on to the command; the others keep their default effect on ``record`` itself.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


@dataclass(frozen=True)
class Outcome:
    started: datetime
    ended: datetime
    exit_code: int | None  # None when a signal ended it
    signal: str | None  # "SIGKILL"
    stderr_tail: str
    peak_memory: int | None  # bytes; None when not above the recording process's own peak

    @property
    def shell_code(self) -> int:
        """The exit status a shell gives: the command's own, or 128 + the signal's number."""
        if self.signal is not None:
            return 128 + signal.Signals[self.signal].value
        return self.exit_code or 0


class Tail:
    """The last ``limit`` bytes written to it."""

    def __init__(self, limit: int = STDERR_TAIL) -> None:
        self.limit = limit
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0

    def write(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        while self._size - len(self._chunks[0]) >= self.limit:
            self._size -= len(self._chunks.popleft())

    def text(self) -> str:
        data = b"".join(self._chunks)[-self.limit:]
        return data.decode("utf-8", errors="replace")


def _pump(source: int, tail: Tail) -> None:
    """Copy the command's stderr to ours as it comes, keeping its tail."""
    out = sys.stderr.fileno()
    while data := os.read(source, 65536):
        tail.write(data)
        with contextlib.suppress(OSError):
            os.write(out, data)
    os.close(source)


def _terminal_delivered(signum: int) -> bool:
    """Whether the terminal sent this signal to the command as well: Ctrl+C (and Ctrl+\\) reach the whole
    foreground process group, which the command shares with us; forwarding them again would interrupt it twice."""
    if signum not in (signal.SIGINT, signal.SIGQUIT):
        return False
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def forwarding() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Signals ``record`` gets are passed on to the command put in the yielded list (and do not stop ``record``).
    Installed before the command starts, so that no signal falls between its start and the handlers."""
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, frame: object) -> None:
        for child in children:  # not child.poll() or send_signal(), which poll: ``run`` reaps it with wait4
            if child.returncode is None and not _terminal_delivered(signum):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():  # handlers can only be set there
        previous = {signum: signal.signal(signum, forward) for signum in FORWARDED}
    try:
        yield children
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run(argv: list[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None) -> Outcome:
    """Run ``argv`` to its end: stdout untouched, stderr passed through and its tail kept, signals forwarded."""
    tail = Tail()
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with forwarding() as children:
        read, write = os.pipe()
        started = datetime.now(UTC)
        try:
            child = subprocess.Popen(argv, stderr=write, env=None if env is None else dict(env), cwd=cwd)
        except OSError:
            os.close(read)
            raise
        finally:
            os.close(write)
        children.append(child)
        pump = threading.Thread(target=_pump, args=(read, tail), daemon=True)
        pump.start()
        _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage, not all children's
        ended = datetime.now(UTC)
        code = child.returncode = os.waitstatus_to_exitcode(status)
    pump.join(timeout=30)  # the pipe closes when the command is gone, unless something it started in the
    # background kept its stderr open: that is not waited for
    # kibibytes on Linux. Linux carries the launching process's peak over into the command (fork, then exec keeps
    # the high-water mark), so a peak not above record's own says only "at most that much": it is left out.
    peak = usage.ru_maxrss * 1024 if usage.ru_maxrss > own_peak else None
    name = signal.Signals(-code).name if code < 0 else None
    return Outcome(started, ended, None if name else code, name, tail.text(), peak)
