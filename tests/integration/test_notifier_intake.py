"""The notifier's intake on one fetched batch: what it records, decodes and settles."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from distill.v1 import task_pb2
from distill_core.db.session import make_engine
from distill_core.events import item_event
from distill_notifier import app
from sqlalchemy import text

from tests.helpers import make_task, make_tenant

pytestmark = pytest.mark.integration


class FakeMsg:
    """A fetched stream message: records how it was settled."""

    def __init__(self, subject: str, data: bytes, seq: int) -> None:
        self.subject, self.data, self.seq = subject, data, seq
        self.settled: list[str] = []
        self.decoded = False

    @property
    def metadata(self) -> Any:
        self.decoded = True

        class Seq:
            stream = self.seq

        class Meta:
            sequence = Seq

        return Meta

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        self.settled.append("nak")

    async def term(self) -> None:
        self.settled.append("term")


def event_msg(tenant: str, task_id: str, seq: int, eid: str) -> FakeMsg:
    item = task_pb2.Item(id=str(uuid.uuid4()), task_id=task_id, status=task_pb2.ITEM_STATUS_SUCCEEDED)
    out = item_event(tenant, item, eid)
    return FakeMsg(out.subject, out.data, seq)


@pytest.fixture
async def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def test_events_without_destinations_are_acked_undecoded(engine: Any) -> None:
    quiet, _ = await make_tenant(engine)
    hooked, _ = await make_tenant(engine)
    quiet_task, _ = await make_task(engine, quiet, ["a"])
    hooked_task, _ = await make_task(engine, hooked, ["b"])
    hook = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO webhooks (id, tenant_id, url, secret, filter, labels) "
                "VALUES (:id, :t, :u, 's', 'all', '{}')"
            ),
            {"id": hook, "t": hooked, "u": "https://example.com/hook"},
        )
    quiet_msgs = [event_msg(quiet, str(quiet_task), i, f"q{i}-{uuid.uuid4()}") for i in range(3)]
    hooked_msg = event_msg(hooked, str(hooked_task), 10, f"h-{uuid.uuid4()}")
    not_an_event = FakeMsg(f"distill.events.{hooked}.{hooked_task}", b"\xff\xff not protobuf", 11)
    bad_subject = FakeMsg("distill.events", b"", 12)
    batch = [*quiet_msgs, hooked_msg, not_an_event, bad_subject]

    events, added = await app.take(engine, batch)  # type: ignore[arg-type]

    assert (events, added) == (4, 1)
    assert all(m.settled == ["ack"] for m in [*quiet_msgs, hooked_msg])
    assert not_an_event.settled == bad_subject.settled == ["term"]
    assert not any(m.decoded for m in quiet_msgs) and hooked_msg.decoded
    async with engine.connect() as conn:
        found = await conn.execute(text("SELECT tenant_id FROM deliveries WHERE destination_id = :d"), {"d": hook})
        rows = found.all()
    assert [r.tenant_id for r in rows] == [hooked]
    # Read again (redelivered): nothing new is recorded.
    again = event_msg(hooked, str(hooked_task), 10, "x")
    again.data = hooked_msg.data
    assert await app.take(engine, [again]) == (1, 0)  # type: ignore[arg-type]


async def test_a_failed_recording_gives_the_events_back(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant, _ = await make_tenant(engine)
    task_id, _ = await make_task(engine, tenant, ["a"])

    async def broken(*a: Any, **k: Any) -> Any:
        raise OSError("database gone")

    monkeypatch.setattr(app.intake, "destinations", broken)
    m = event_msg(tenant, str(task_id), 1, "e1")
    bad_subject = FakeMsg("distill.events", b"", 2)
    assert await app.take(engine, [m, bad_subject]) == (0, 0)  # type: ignore[arg-type]
    assert m.settled == ["nak"] and bad_subject.settled == ["term"]
