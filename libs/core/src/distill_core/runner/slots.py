"""A counting semaphore that serves waiters by priority (0 first), FIFO within one."""

from __future__ import annotations

import asyncio
from collections import deque


class PrioritySlots:
    """`capacity` slots; a freed slot goes to the most urgent waiter."""

    def __init__(self, capacity: int, levels: int = 3) -> None:
        self.capacity = capacity
        self.free = capacity
        self._waiters: list[deque[asyncio.Future[None]]] = [deque() for _ in range(levels)]

    @property
    def in_use(self) -> int:
        return self.capacity - self.free

    def waiting(self, above: int | None = None) -> int:
        """Waiters more urgent than level `above` (all waiters when None)."""
        levels = self._waiters if above is None else self._waiters[:above]
        return sum(len(q) for q in levels)

    def available(self, level: int) -> int:
        """Slots a caller at `level` could take now without overtaking a more urgent waiter."""
        return max(0, self.free - self.waiting(above=level + 1))

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
            for q in self._waiters:
                while q and q[0].done():
                    q.popleft()
                if q:
                    q.popleft().set_result(None)
                    break
            else:
                self.free += 1
