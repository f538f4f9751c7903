"""Per-provider concurrency and request-rate limits, shared by every caller in the process.

Sync callers (threads, Prefect's thread pool) and async callers (any number of event loops) draw from the
same limits, so both are built on a ``threading.Lock`` with first-come-first-served waiters; async waiters are
woken through their own loop with ``call_soon_threadsafe`` and never block it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Any

__all__ = ["ConcurrencyLimiter", "RateLimiter"]


class _Waiter:
    __slots__ = ("event", "future", "granted", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.granted = False
        self.loop = loop
        self.event: threading.Event | None = None if loop else threading.Event()
        self.future: asyncio.Future[None] | None = loop.create_future() if loop else None

    def wake(self) -> None:
        self.granted = True
        if self.event is not None:
            self.event.set()
        else:
            assert self.loop is not None and self.future is not None
            self.loop.call_soon_threadsafe(_resolve, self.future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ConcurrencyLimiter:
    """At most ``limit`` holders at once; a released slot passes straight to the oldest waiter."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._in_use = 0
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()

    @property
    def in_use(self) -> int:
        return self._in_use

    def acquire(self) -> None:
        with self._lock:
            if self._in_use < self.limit and not self._waiters:
                self._in_use += 1
                return
            waiter = _Waiter()
            self._waiters.append(waiter)
        assert waiter.event is not None
        waiter.event.wait()

    async def aacquire(self) -> None:
        with self._lock:
            if self._in_use < self.limit and not self._waiters:
                self._in_use += 1
                return
            waiter = _Waiter(asyncio.get_running_loop())
            self._waiters.append(waiter)
        assert waiter.future is not None
        try:
            await waiter.future
        except asyncio.CancelledError:
            with self._lock:
                if not waiter.granted:
                    self._waiters.remove(waiter)
                    raise
            # The slot was handed over as we were cancelled: pass it on.
            self.release()
            raise

    def release(self) -> None:
        with self._lock:
            if self._waiters:
                # The slot moves to the waiter; _in_use stays the same.
                self._waiters.popleft().wake()
            else:
                self._in_use -= 1

    def __enter__(self) -> ConcurrencyLimiter:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    async def __aenter__(self) -> ConcurrencyLimiter:
        await self.aacquire()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.release()


class RateLimiter:
    """At most ``per_minute`` request starts in any minute, bursts allowed up to that many.

    A generic cell rate algorithm: one timestamp of state, each request reserves the next slot under the lock
    and then waits outside it until its slot comes.
    """

    def __init__(self, per_minute: float, clock: Any = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.interval = 60.0 / per_minute
        self.tolerance = max(per_minute - 1, 0) * self.interval
        self._clock = clock
        self._theoretical_arrival = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Reserve a slot and return how many seconds to wait for it."""
        with self._lock:
            now = self._clock()
            arrival = max(self._theoretical_arrival, now)
            wait = max(0.0, arrival - self.tolerance - now)
            self._theoretical_arrival = arrival + self.interval
            return wait

    def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            time.sleep(wait)

    async def aacquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
