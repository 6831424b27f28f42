"""Politeness toward each site: a per-host concurrency limit and a minimum interval between
request starts to the same host.

The interval is for other people's servers: a host whose addresses are all loopback or
private (reachable only where the deployment allows them: its own servers) gets the
concurrency limit but no delay. Both hold per parser process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass
class _Host:
    sem: asyncio.Semaphore
    next_start: float = 0.0
    users: int = 0


class HostGate:
    """At most `concurrency` requests at once per host, starts at least `delay` seconds apart."""

    MAX_IDLE_HOSTS = 10_000

    def __init__(self, concurrency: int, delay: float) -> None:
        self.concurrency = concurrency
        self.delay = delay
        self._hosts: dict[str, _Host] = {}

    def __len__(self) -> int:
        return len(self._hosts)

    @contextlib.asynccontextmanager
    async def slot(self, host: str, polite: bool = True) -> AsyncIterator[float]:
        """Hold one of the host's slots; yields the seconds spent waiting for it."""
        loop = asyncio.get_running_loop()
        st = self._hosts.get(host)
        if st is None:
            if len(self._hosts) >= self.MAX_IDLE_HOSTS:
                self._sweep(loop.time())
            st = self._hosts[host] = _Host(asyncio.Semaphore(self.concurrency))
        st.users += 1
        t0 = loop.time()
        try:
            async with st.sem:
                if polite and self.delay > 0:
                    now = loop.time()
                    start = max(now, st.next_start)
                    st.next_start = start + self.delay  # reserved before sleeping: starts stay ordered
                    if start > now:
                        await asyncio.sleep(start - now)
                yield loop.time() - t0
        finally:
            st.users -= 1
            if st.users == 0 and st.next_start <= loop.time():
                self._hosts.pop(host, None)

    def _sweep(self, now: float) -> None:
        for h in [h for h, s in self._hosts.items() if s.users == 0 and s.next_start <= now]:
            del self._hosts[h]
