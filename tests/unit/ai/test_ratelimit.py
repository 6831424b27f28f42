import asyncio

import pytest
from distill_ai.ratelimit import RateLimiter
from distill_core.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def limiter(rpm: int = 0, tpm: int = 0) -> tuple[RateLimiter, Clock]:
    c = Clock()
    return RateLimiter(rpm, tpm, clock=c, sleep=c.sleep), c


async def test_requests_per_minute_are_spread_evenly() -> None:
    rl, c = limiter(rpm=60)
    for _ in range(5):
        await rl.acquire(10)
    assert c.now - 1000.0 == pytest.approx(4.0)  # one a second: the first at once, then a second apart


async def test_tokens_per_minute_allow_a_request_bigger_than_a_second_of_budget() -> None:
    rl, c = limiter(tpm=6000)  # 100 tokens a second
    await rl.acquire(1000)  # passes at once, leaving a debt
    await rl.acquire(1000)
    assert c.now - 1000.0 == pytest.approx(10.0)  # the 900-token debt and a full second's budget, at 100/s
    await rl.acquire(50)
    assert c.now - 1000.0 == pytest.approx(19.5)  # the new debt of 900, then 50


async def test_settle_corrects_the_estimate() -> None:
    rl, c = limiter(tpm=6000)
    await rl.acquire(1000)
    rl.settle(1000, 100)  # it cost 100, not 1000: no debt left, only the 100 spent
    await rl.acquire(100)
    assert c.now - 1000.0 == pytest.approx(1.0)  # (10 s without the correction)


async def test_a_429_pauses_everyone() -> None:
    rl, c = limiter()
    rl.pause(7)
    await rl.acquire(1)
    assert c.sleeps == [pytest.approx(7.0)]


async def test_a_long_wait_gives_the_job_back_instead() -> None:
    rl, c = limiter(rpm=2)  # one every 30 s
    await rl.acquire(1)
    with pytest.raises(RateLimited) as e:
        await rl.acquire(1, max_wait=10)
    assert e.value.retry_after == pytest.approx(30.5)
    assert c.sleeps == []


async def test_no_limits_no_waiting() -> None:
    rl, c = limiter()
    await asyncio.gather(*(rl.acquire(10**6) for _ in range(100)))
    assert c.sleeps == []


async def test_waiters_are_served_in_order() -> None:
    rl, _ = limiter(rpm=60)
    order: list[int] = []

    async def one(i: int) -> None:
        await rl.acquire(1)
        order.append(i)

    await asyncio.gather(*(one(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]
