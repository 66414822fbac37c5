"""One write at a time, in the open: the server's write lock, with the writes applying and waiting listed
(``GET /api/v1/writes``), so that a client whose write waits behind another can say what it waits for."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass


@dataclass
class Write:
    id: str
    agent: str
    action: str
    target: str
    state: str  # waiting, applying
    since: float  # time.time() when it entered its state


class WriteQueue:
    """The lock every write takes, and who holds it or waits for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._guard = threading.Lock()
        self._writes: dict[str, Write] = {}

    @contextlib.contextmanager
    def turn(self, agent: str, action: str, target: str, write_id: str | None = None) -> Iterator[None]:
        """Wait for the lock (listed as waiting), hold it (listed as applying), then leave the list."""
        entry = Write(write_id or uuid.uuid4().hex, agent, action, target, "waiting", time.time())
        with self._guard:
            self._writes[entry.id] = entry
        try:
            with self._lock:
                with self._guard:
                    entry.state, entry.since = "applying", time.time()
                yield
        finally:
            with self._guard:
                self._writes.pop(entry.id, None)

    @contextlib.contextmanager
    def if_free(self) -> Iterator[bool]:
        """The lock if nobody holds it (True), else nothing (False): for housekeeping that must never wait."""
        held = self._lock.acquire(blocking=False)
        try:
            yield held
        finally:
            if held:
                self._lock.release()

    def snapshot(self) -> list[dict[str, object]]:
        """The writes applying and waiting, oldest first, with the seconds each has spent in its state."""
        now = time.time()
        with self._guard:
            writes = sorted(self._writes.values(), key=lambda w: (w.state != "applying", w.since))
            return [asdict(w) | {"seconds": round(now - w.since, 1)} for w in writes]
