from __future__ import annotations

import asyncio

from distill_core.runner.slots import PrioritySlots


async def test_freed_slot_goes_to_most_urgent_waiter() -> None:
    slots = PrioritySlots(1)
    await slots.acquire(2)
    order: list[str] = []

    async def want(level: int, tag: str) -> None:
        await slots.acquire(level)
        order.append(tag)

    low = asyncio.create_task(want(2, "low"))
    await asyncio.sleep(0)
    high = asyncio.create_task(want(0, "high"))
    await asyncio.sleep(0)
    slots.release()
    await asyncio.sleep(0)
    assert order == ["high"]
    slots.release()
    await asyncio.gather(low, high)
    assert order == ["high", "low"]


async def test_available_leaves_room_for_urgent_waiters() -> None:
    slots = PrioritySlots(2)
    await slots.acquire(1)
    assert slots.available(2) == 1
    await slots.acquire(1)
    waiter = asyncio.create_task(slots.acquire(0))
    await asyncio.sleep(0)
    assert slots.available(2) == 0
    slots.release()
    await waiter
    assert slots.free == 0


async def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    slots = PrioritySlots(1)
    await slots.acquire(1)
    t = asyncio.create_task(slots.acquire(1))
    await asyncio.sleep(0)
    t.cancel()
    await asyncio.sleep(0)
    slots.release()
    assert slots.free == 1


async def test_exclusive_waits_for_others_and_keeps_newcomers_out() -> None:
    slots = PrioritySlots(3)
    await slots.acquire(1)  # another job in flight
    log: list[str] = []

    async def suspect(tag: str) -> None:
        async with slots.exclusive():
            log.append(f"{tag} alone")
            await asyncio.sleep(0.01)
            assert slots.in_use == 1
        log.append(f"{tag} done")
        slots.release()

    async def newcomer() -> None:
        await slots.acquire(0)
        log.append("newcomer")
        slots.release()

    s1 = asyncio.create_task(suspect("a"))
    s2 = asyncio.create_task(suspect("b"))
    await asyncio.sleep(0)
    n = asyncio.create_task(newcomer())
    await asyncio.sleep(0.01)
    assert log == []  # suspects wait for the job in flight; the newcomer waits too
    slots.release()  # the other job ends
    await asyncio.gather(s1, s2, n)
    assert log == ["a alone", "a done", "b alone", "b done", "newcomer"]
    assert slots.free == 3
