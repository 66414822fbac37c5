"""Who runs next on the query workers: a bounded queue, fair between clients, with a wait limit.

Queries used to wait first come, first served, without bound, so a light query waited behind every heavy one
queued before it. The rules now:

- A client (the caller's address) runs at most ``slots - 1`` queries at once (at least one), so a worker is
  always left for somebody else: a client sending heavy queries slows itself down, not the others.
- Of the waiting clients, the one that used the workers least lately goes first (worker-seconds, halved every
  ``HALF_LIFE`` seconds), ties in the order they started waiting; so a client of light queries overtakes clients
  whose queries ran long, and waiting clients take turns.
- At most ``max_waiting`` queries wait, one client at most half of them; a query that cannot queue, or that waits
  longer than ``max_wait`` seconds, is refused with :class:`Busy` (the endpoint answers 503 with ``Retry-After``).
- Background work (the server's warm-up, client :data:`BACKGROUND`) starts only when no request waits and a
  worker stays idle beside it; it is never refused, only kept waiting.

The cost of a query is not known before it runs, so fairness is by client, not by cost; many clients sending
heavy queries at once still fill every worker (then the queue and wait limits answer 503 quickly instead of
keeping everyone waiting, and each query stops at its time and memory limits).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Iterator
from contextlib import contextmanager

#: The client name of background work: lowest priority, never refused.
BACKGROUND = "(background)"
#: Seconds over which a client's past use of the workers counts half as much.
HALF_LIFE = 60.0


class Busy(Exception):
    """No worker for this query now; ``retry_after`` seconds is a fair time to try again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Scheduler:
    """Hands out ``slots`` places (one per worker) to the clients that ask, by the rules above."""

    def __init__(self, slots: int, max_waiting: int = 32, max_wait: float = 10.0) -> None:
        self.slots = max(1, slots)
        self.per_client = max(1, self.slots - 1)
        self.max_waiting = max(0, max_waiting)
        self.max_wait = max_wait
        self._cond = threading.Condition()
        self._running: Counter[str] = Counter()
        self._waiting: OrderedDict[str, deque[object]] = OrderedDict()  # clients in the order they are served
        self._usage: dict[str, tuple[float, float]] = {}  # client: (worker-seconds, when last updated)
        self._closed = False

    @contextmanager
    def slot(self, client: str) -> Iterator[None]:
        """Hold a place while the block runs; raises :class:`Busy` when refused."""
        self.acquire(client)
        started = time.monotonic()
        try:
            yield
        finally:
            self.release(client, time.monotonic() - started)

    def acquire(self, client: str) -> None:
        retry_after = max(1, math.ceil(self.max_wait))
        with self._cond:
            if self._closed:
                raise Busy("the query runner is shut down", retry_after)
            if client != BACKGROUND:
                waiting = sum(len(tickets) for name, tickets in self._waiting.items() if name != BACKGROUND)
                mine = len(self._waiting.get(client, ()))
                if waiting >= self.max_waiting or mine >= max(1, self.max_waiting // 2):
                    raise Busy(f"too many queries waiting (setting query_queue={self.max_waiting}); "
                               f"try again in {retry_after} s", retry_after)
            ticket = object()
            self._waiting.setdefault(client, deque()).append(ticket)
            deadline = None if client == BACKGROUND else time.monotonic() + self.max_wait
            try:
                while self._next() is not ticket:
                    if self._closed:
                        raise Busy("the query runner is shut down", retry_after)
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise Busy(f"no query worker came free within {self.max_wait:g} s (setting query_wait); "
                                   f"try again in {retry_after} s", retry_after)
                    self._cond.wait(remaining)
            except BaseException:
                self._forget(client, ticket)
                self._cond.notify_all()
                raise
            self._forget(client, ticket)
            self._running[client] += 1
            self._cond.notify_all()  # another waiting client may be able to start too

    def release(self, client: str, seconds: float = 0.0) -> None:
        """Give a place back; ``seconds`` it was held count against the client's priority for a while."""
        with self._cond:
            self._running[client] -= 1
            if self._running[client] <= 0:
                del self._running[client]
            now = time.monotonic()
            self._usage[client] = (self._used(client, now) + seconds, now)
            if len(self._usage) > 1000:  # forget clients whose use has faded
                self._usage = {name: entry for name, entry in self._usage.items() if self._used(name, now) > 0.01}
            self._cond.notify_all()

    def _used(self, client: str, now: float) -> float:
        used, when = self._usage.get(client, (0.0, now))
        return used * 0.5 ** ((now - when) / HALF_LIFE)

    def close(self) -> None:
        """Refuse everything from now on; waiting callers get :class:`Busy`."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def waiting(self) -> int:
        with self._cond:
            return sum(len(tickets) for tickets in self._waiting.values())

    def _next(self) -> object | None:
        """The ticket that may start now, if any (called with the lock held)."""
        free = self.slots - sum(self._running.values())
        if free <= 0:
            return None
        foreground = [client for client in self._waiting if client != BACKGROUND]
        now = time.monotonic()
        for client in sorted(foreground, key=lambda name: self._used(name, now)):  # stable: ties keep their order
            if self._running[client] < self.per_client:
                return self._waiting[client][0]
        foreground_waits = bool(foreground)
        background = self._waiting.get(BACKGROUND)
        if background and not self._running[BACKGROUND] and not foreground_waits and (
                free >= 2 or self.slots == 1):
            return background[0]
        return None

    def _forget(self, client: str, ticket: object) -> None:
        """Take a ticket out of the queue; a client still waiting goes to the back of the line."""
        tickets = self._waiting[client]
        tickets.remove(ticket)
        if tickets:
            self._waiting.move_to_end(client)
        else:
            del self._waiting[client]
