"""The per-host gate: a concurrency limit per host and a delay between starts for public hosts."""

from __future__ import annotations

import asyncio
import itertools

from distill_parser.politeness import HostGate


async def _starts(gate: HostGate, host: str, n: int, polite: bool, hold: float = 0.0) -> tuple[list[float], int]:
    loop = asyncio.get_running_loop()
    starts: list[float] = []
    active = peak = 0

    async def one() -> None:
        nonlocal active, peak
        async with gate.slot(host, polite):
            starts.append(loop.time())
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(hold)
            active -= 1

    await asyncio.gather(*(one() for _ in range(n)))
    return sorted(starts), peak


async def test_starts_to_a_public_host_are_spaced() -> None:
    gate = HostGate(concurrency=4, delay=0.05)
    starts, _ = await _starts(gate, "example.com", 5, polite=True)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(g >= 0.045 for g in gaps), gaps


async def test_private_hosts_get_no_delay_but_the_limit() -> None:
    gate = HostGate(concurrency=2, delay=5.0)
    starts, peak = await _starts(gate, "127.0.0.1", 6, polite=False, hold=0.02)
    assert starts[-1] - starts[0] < 1.0  # no 5 s delays
    assert peak == 2


async def test_hosts_do_not_wait_for_each_other_and_idle_hosts_are_forgotten() -> None:
    gate = HostGate(concurrency=1, delay=0.0)
    (a, pa), (b, pb) = await asyncio.gather(
        _starts(gate, "a.example", 3, True, hold=0.05), _starts(gate, "b.example", 3, True, hold=0.05)
    )
    assert pa == pb == 1
    assert abs(a[0] - b[0]) < 0.04  # b's first request did not wait behind a's
    assert len(gate) == 0


async def test_the_wait_is_reported() -> None:
    gate = HostGate(concurrency=1, delay=0.1)
    async with gate.slot("example.com") as first:
        assert first < 0.05
    async with gate.slot("example.com") as second:
        assert second >= 0.08
