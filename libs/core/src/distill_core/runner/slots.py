"""A counting semaphore that serves waiters by priority (0 first), FIFO within one.

It can also run one holder alone (`exclusive()`): new acquisitions wait until that
holder is done, and it starts once everything else in flight has finished. The runner
uses it to re-run a job whose previous attempt died with its worker, so that a poison
job can only take itself down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class PrioritySlots:
    """`capacity` slots; a freed slot goes to the most urgent waiter."""

    def __init__(self, capacity: int, levels: int = 3) -> None:
        self.capacity = capacity
        self.free = capacity
        self._waiters: list[deque[asyncio.Future[None]]] = [deque() for _ in range(levels)]
        self._open = asyncio.Event()
        self._open.set()
        self._released = asyncio.Event()
        self._exclusive = asyncio.Lock()
        self._solo_waiting = 0

    @property
    def in_use(self) -> int:
        return self.capacity - self.free

    def waiting(self, above: int | None = None) -> int:
        """Waiters more urgent than level `above` (all waiters when None)."""
        levels = self._waiters if above is None else self._waiters[:above]
        return sum(len(q) for q in levels)

    def available(self, level: int) -> int:
        """Slots a caller at `level` could take now without overtaking a more urgent waiter."""
        if not self._open.is_set():
            return 0
        return max(0, self.free - self.waiting(above=level + 1))

    def try_acquire(self, level: int) -> bool:
        """Take a slot if one is free for `level` right now."""
        if self.available(level) > 0 and not self._waiters[level]:
            self.free -= 1
            return True
        return False

    async def acquire(self, level: int) -> None:
        if self.available(level) > 0 and not self._waiters[level]:
            self.free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[level].append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # we were handed a slot as we were cancelled: pass it on
            else:
                self._waiters[level].remove(fut)
            raise

    def release(self, n: int = 1) -> None:
        for _ in range(n):
            self.free += 1
            self._hand_over()
        self._released.set()

    def _hand_over(self) -> None:
        """Give free slots to waiters, most urgent first (not while someone runs alone)."""
        if not self._open.is_set():
            return
        for q in self._waiters:
            while self.free > 0 and q:
                fut = q.popleft()
                if not fut.done():
                    self.free -= 1
                    fut.set_result(None)

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Take one slot once nothing else is in flight, and keep everyone else out until
        the block ends. The caller must not hold a slot while waiting (such callers queue
        up one at a time, ahead of ordinary acquisitions); it owns the slot taken here
        and releases it as usual."""
        self._solo_waiting += 1
        self._open.clear()
        try:
            await self._exclusive.acquire()
        finally:
            self._solo_waiting -= 1
        try:
            while self.in_use > 0:
                self._released.clear()
                await self._released.wait()
            self.free -= 1
            yield
        finally:
            self._exclusive.release()
            if not self._solo_waiting:
                self._open.set()
                self._hand_over()
