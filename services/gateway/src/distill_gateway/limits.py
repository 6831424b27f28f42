"""Request limits: message size, and the per-tenant CreateTask rate shared by every gateway replica.

Size: a request larger than DISTILL_MAX_REQUEST_BYTES is RESOURCE_EXHAUSTED naming the
limit (checked in calls.py for gRPC and HTTP alike). gRPC itself refuses, before
decoding, anything over twice that (also RESOURCE_EXHAUSTED, in gRPC's own words), so a
huge message never reaches memory as a parsed object.

Rate: a GCRA (generic cell rate algorithm) bucket per tenant in PostgreSQL's
`rate_limits` table, one row `create_task:<tenant>` holding the theoretical arrival time
(TAT). Each accepted call moves the TAT one interval (1 / rate) into the future; a call
is refused while the TAT is more than `burst` intervals ahead of now. It is atomic and
in PostgreSQL, so the limit holds across any number of gateway replicas; for CreateTask it
is part of the very statement that stores the task, so it costs no round trip of its own.
"""

from __future__ import annotations

from typing import Any, NoReturn

from distill_core.errors import ResourceExhausted
from distill_core.settings import GatewaySettings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def grpc_receive_limit(settings: GatewaySettings) -> int:
    """What gRPC accepts at all: room above the limit so that calls.py can name the setting."""
    return 2 * settings.max_request_bytes


def check_request_size(request: Any, limit: int) -> None:
    size = request.ByteSize()
    if size > limit:
        raise ResourceExhausted(
            f"the request is {size} bytes; the limit is {limit} bytes (DISTILL_MAX_REQUEST_BYTES)",
            code="REQUEST_TOO_LARGE",
        )


# Accept: insert the row (first call) or move its TAT, only while the result stays within the
# burst. `take` returns one row when the call is accepted, none when it is refused. CreateTask
# runs it as the first part of the statement that stores the task (repo.insert_task), so a
# refused call stores nothing and an accepted one costs no round trip of its own.
TAKE_CTE = """take AS (
  INSERT INTO rate_limits AS r (key, tat)
  VALUES (:rl_key, clock_timestamp() + make_interval(secs => :rl_interval))
  ON CONFLICT (key) DO UPDATE
    SET tat = greatest(r.tat, clock_timestamp()) + make_interval(secs => :rl_interval)
    WHERE greatest(r.tat, clock_timestamp()) + make_interval(secs => :rl_interval)
          <= clock_timestamp() + make_interval(secs => :rl_window)
  RETURNING 1
)"""

# On its own (UploadFiles, and CreateTask with an idempotency key), committed without waiting
# for the WAL flush (synchronous_commit off for this transaction only): a bucket that forgets
# its last milliseconds in a crash costs nothing, and the call saves a disk flush.
_TAKE = text(f"""
WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)), {TAKE_CTE}
SELECT 1 FROM take, quick
""")

_WAIT = text("""
SELECT greatest(0, extract(epoch FROM tat + make_interval(secs => :rl_interval)
                                      - clock_timestamp() - make_interval(secs => :rl_window)))::float8
FROM rate_limits WHERE key = :rl_key
""")


def gcra_window(rate: float, burst: int) -> tuple[float, float]:
    """(interval between calls, how far ahead the TAT may run) for `rate` calls/s and bursts of `burst`."""
    interval = 1.0 / rate
    return interval, interval * burst


class CreateTaskLimiter:
    """DISTILL_CREATE_TASK_RATE calls per second per tenant, bursts of DISTILL_CREATE_TASK_BURST."""

    def __init__(self, engine: AsyncEngine, rate: float, burst: int) -> None:
        self.autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.rate = rate
        self.burst = burst

    def params(self, tenant: str) -> dict[str, Any] | None:
        """The parameters of TAKE_CTE for one call of `tenant`; None when there is no limit."""
        if self.rate <= 0:
            return None
        interval, window = gcra_window(self.rate, self.burst)
        return {"rl_key": f"create_task:{tenant}", "rl_interval": interval, "rl_window": window}

    async def take(self, tenant: str) -> None:
        """Count one CreateTask call of `tenant`, or ResourceExhausted naming the limit."""
        params = self.params(tenant)
        if params is None:
            return
        async with self.autocommit.connect() as conn:
            if (await conn.execute(_TAKE, params)).first() is not None:
                return
            await self.refuse(conn, params)

    async def refuse(self, conn: AsyncConnection, params: dict[str, Any]) -> NoReturn:
        """ResourceExhausted for a call that `take` did not accept, saying when to try again."""
        wait = float((await conn.execute(_WAIT, params)).scalar() or 0.0)
        raise ResourceExhausted(
            f"CreateTask rate limit: at most {self.rate:g} per second per tenant with bursts of {self.burst} "
            f"(DISTILL_CREATE_TASK_RATE, DISTILL_CREATE_TASK_BURST); try again in {max(wait, 0.001):.3f} s",
            code="RATE_LIMITED",
            retry_after=f"{wait:.3f}",
        )
