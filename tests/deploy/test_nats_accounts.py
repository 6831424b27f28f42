"""deploy/nats/accounts.yaml against a real nats-server: the services' own code works with
their least-privilege users, and each user is refused what is not its own."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from distill_core import nats as dnats
from distill_core import subjects
from distill_core.db.session import make_engine
from distill_core.events import publish_all
from distill_core.runner import BaseStage, JobContext, StageResult, StageRunner
from distill_core.settings import Settings

from tests.deploy.manifests import ROOT, load_module
from tests.helpers import first_jobs, item_rows, make_task, make_tenant, task_status, wait_for

render_accounts = load_module("render_accounts", ROOT / "deploy/nats/render_accounts.py")
ACCOUNTS = yaml.safe_load((ROOT / "deploy/nats/accounts.yaml").read_text())
USERS = ("sys", "admin", "gateway", "parser", "ai", "notion", "notifier")
PASSWORDS = {u: f"pw-{u}-{uuid.uuid4().hex[:8]}" for u in USERS}


def test_accounts_file_is_generated_from_subjects() -> None:
    assert (ROOT / "deploy/nats/accounts.yaml").read_text() == render_accounts.render(), (
        "deploy/nats/accounts.yaml is stale: run .venv/bin/python deploy/nats/render_accounts.py"
    )


def test_every_password_variable_comes_from_the_secret() -> None:
    merge = json.dumps(ACCOUNTS["config"]["merge"])
    env = ACCOUNTS["container"]["env"]
    for user in USERS:
        var = f"NATS_{user.upper()}_PASSWORD"
        assert f"<< ${var} >>" in merge, f"user {user} has no password variable"
        ref = env[var]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "distill-nats-auth", "key": user}


def test_stage_users_only_reach_their_own_consumers() -> None:
    users = {u["user"]: u for u in ACCOUNTS["config"]["merge"]["accounts"]["DISTILL"]["users"]}
    for stage, user in (("parse", "parser"), ("ai", "ai"), ("notion", "notion")):
        allowed = users[user]["permissions"]["publish"]["allow"]
        pulls = {a.removeprefix("$JS.API.CONSUMER.MSG.NEXT.") for a in allowed if ".MSG.NEXT." in a}
        reports = {f"JOBS.{subjects.REPORT_CONSUMER}"} if user == "notion" else set()  # the report worker
        assert pulls == {f"JOBS.{stage}-{p}" for p in subjects.PRIORITIES} | {f"ADVISORIES.advisory-{stage}"} | reports
        assert not any(a in (">", "$JS.API.>", "distill.>", "distill.jobs.>") for a in allowed)


# --- a real nats-server with these accounts -------------------------------------------------


@pytest.fixture(scope="module")
def secured_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from distill_cli.embedded import NatsServer

    conf = render_accounts.nats_conf(ACCOUNTS["config"]["merge"], PASSWORDS)
    srv = NatsServer(tmp_path_factory.mktemp("nats-accounts"), sync_always=True, extra_config=conf).start()
    yield srv.url
    srv.stop()


def settings_for(user: str, nats_url: str, database_url: str) -> Settings:
    return Settings(nats_url=nats_url, database_url=database_url, nats_user=user, nats_password=PASSWORDS[user])


class Connection:
    """A NATS connection as one user, recording the server's permission errors."""

    def __init__(self, user: str, url: str, password: str | None = None) -> None:
        self.user, self.url, self.password = user, url, password or PASSWORDS[user]
        self.errors: list[str] = []

    async def __aenter__(self) -> Connection:
        import nats

        async def on_error(e: Exception) -> None:
            self.errors.append(str(e))

        self.nc = await nats.connect(
            self.url, user=self.user, password=self.password, error_cb=on_error, max_reconnect_attempts=0
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.nc.close()

    async def refused(self, what: str) -> bool:
        await self.nc.flush()
        await asyncio.sleep(0.2)
        # nats-py lower-cases the server's "Permissions Violation for Publish to ..." message.
        return any("permissions violation" in e.lower() and what.lower() in e.lower() for e in self.errors)


class PassThrough(BaseStage):
    def __init__(self, name: str) -> None:
        self.name = name

    async def handle(self, ctx: JobContext) -> StageResult:
        return StageResult(title=f"{self.name}:{ctx.item['input']}")


@pytest.fixture(scope="module")
async def flow(secured_nats: str, database_url: str) -> AsyncIterator[dict[str, Any]]:
    """Topology created by the gateway user; three stage runners and the notifier, each as its own user."""
    from distill_notifier.app import serve as notifier_serve
    from distill_notifier.settings import NotifierSettings

    gw = settings_for("gateway", secured_nats, database_url)
    nc = await dnats.connect(gw, "test-gateway")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, gw)
    runners = [
        StageRunner(PassThrough(stage), settings_for(user, secured_nats, database_url))
        for stage, user in (("parse", "parser"), ("ai", "ai"), ("notion", "notion"))
    ]
    for r in runners:
        try:
            await r.start()
        except Exception as e:  # a denied request shows up as a time-out
            raise AssertionError(
                f"the {r.stage.name} runner could not start as NATS user {r.settings.nats_user}: {e!r}. "
                "Look for 'permissions violation' in the captured log, add the subject in "
                "deploy/nats/render_accounts.py and run it."
            ) from e
    stop = asyncio.Event()
    notifier = NotifierSettings(
        nats_url=secured_nats, database_url=database_url, nats_user="notifier", nats_password=PASSWORDS["notifier"]
    )
    notifier_task = asyncio.create_task(notifier_serve(notifier, stop))
    engine = make_engine(database_url, pool_size=2)
    try:
        yield {"js": js, "engine": engine}
    finally:
        stop.set()
        for r in runners:
            await r.stop()
        await asyncio.wait_for(notifier_task, 15)
        await engine.dispose()
        await nc.close()


@pytest.mark.integration
async def test_items_flow_through_every_stage_with_least_privilege_users(flow: dict[str, Any]) -> None:
    js, engine = flow["js"], flow["engine"]
    tenant, _ = await make_tenant(engine)
    task_id, items = await make_task(engine, tenant, [f"https://example.com/{i}" for i in range(5)])
    watch = await js.subscribe(f"{subjects.EVENTS_PREFIX}.{tenant}.*", stream="EVENTS", ordered_consumer=True)
    await publish_all(js, first_jobs(items))

    async def done() -> bool:
        return await task_status(engine, task_id) in ("succeeded", "failed", "partially_failed")

    await wait_for(done, what="the task to finish through parser, ai and notion users")
    assert await task_status(engine, task_id) == "succeeded"
    titles = {r["title"] for r in await item_rows(engine, task_id)}
    assert titles == {f"notion:https://example.com/{i}" for i in range(5)}

    # Every job was acked by its worker (a WorkQueue stream drops acked messages).
    async def jobs_acked() -> bool:
        return (await js.stream_info(subjects.JOBS_STREAM)).state.messages == 0

    await wait_for(jobs_acked, what="every job to be acked by the stage users")
    # The gateway's WatchTask path: an ordered consumer on EVENTS sees this tenant's events.
    event = await watch.next_msg(timeout=5)
    assert event.subject.startswith(f"{subjects.EVENTS_PREFIX}.{tenant}.")
    await watch.unsubscribe()

    # The notifier user read and acked the events; the workers' heart-beats reached the KV bucket.
    async def notifier_caught_up() -> bool:
        info = await js.consumer_info(subjects.EVENTS_STREAM, subjects.NOTIFIER_CONSUMER)
        return info.delivered.stream_seq > 0 and info.num_ack_pending == 0 and info.num_pending == 0

    await wait_for(notifier_caught_up, what="the notifier to ack every event")
    kv = await js.key_value(subjects.WORKERS_BUCKET)
    stages = {k.split(".")[0] for k in await kv.keys()}
    assert {"parse", "ai", "notion"} <= stages, stages


@pytest.mark.integration
async def test_each_user_is_refused_what_is_not_its_own(flow: dict[str, Any], secured_nats: str) -> None:
    async with Connection("parser", secured_nats) as parser:
        await parser.nc.publish("distill.jobs.notion.normal", b"x")  # skipping a stage
        assert await parser.refused("distill.jobs.notion.normal")
        await parser.nc.publish("distill.dlq.ai", b"x")  # another stage's dead letters
        assert await parser.refused("distill.dlq.ai")
        await parser.nc.publish("$JS.API.CONSUMER.MSG.NEXT.JOBS.ai-normal", b"1")  # another stage's queue
        assert await parser.refused("$JS.API.CONSUMER.MSG.NEXT.JOBS.ai-normal")
        await parser.nc.publish("$JS.API.STREAM.DELETE.JOBS", b"")
        assert await parser.refused("$JS.API.STREAM.DELETE.JOBS")
        await parser.nc.subscribe("distill.events.>")  # other tenants' events
        assert await parser.refused("distill.events.>")
    async with Connection("parser", secured_nats) as parser:  # allowed: no error recorded
        await parser.nc.subscribe(subjects.CANCEL_SUBJECT)
        assert not await parser.refused("subscription")
    async with Connection("notifier", secured_nats) as notifier:
        await notifier.nc.publish("distill.jobs.parse.high", b"x")
        assert await notifier.refused("distill.jobs.parse.high")
    async with Connection("gateway", secured_nats) as gateway:
        await gateway.nc.subscribe("distill.jobs.>")  # the gateway dispatches jobs, never takes them
        assert await gateway.refused("distill.jobs.>")
    async with Connection("gateway", secured_nats) as gateway:  # allowed: no error recorded
        await gateway.nc.publish(subjects.CANCEL_SUBJECT, b"{}")
        assert not await gateway.refused(subjects.CANCEL_SUBJECT)


def test_admin_and_sys_users_exist_for_operators() -> None:
    accounts = ACCOUNTS["config"]["merge"]["accounts"]
    assert ACCOUNTS["config"]["merge"]["system_account"] == "SYS"
    assert [u["user"] for u in accounts["SYS"]["users"]] == ["sys"]
    assert "admin" in {u["user"] for u in accounts["DISTILL"]["users"]}
    assert Path(ROOT / "deploy/nats/values.yaml").exists()
