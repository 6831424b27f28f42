"""The report flow with the least-privilege NATS users `distill up` and deploy/ configure
(distill_core.nats_auth): the gateway user publishes report jobs, the notion user (the
export service) works them, and no other service may do either."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from distill.v1 import report_pb2
from distill_cli.embedded import NatsServer
from distill_client import AsyncClient
from distill_core import nats_auth, subjects
from distill_notion.report_worker import ReportWorker
from distill_notion.settings import ExportSettings

from tests.deploy.test_nats_accounts import Connection
from tests.integration.gateway_fixture import running_gateway
from tests.integration.notion_env import article, seed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    d: Path = tmp_path_factory.mktemp("report-users")
    passwords = nats_auth.local_passwords(d)
    srv = NatsServer(d / "nats", extra_config=nats_auth.server_config(passwords)).start()
    yield srv.url, passwords
    srv.stop()


async def test_reports_are_made_by_the_notion_user_and_refused_to_the_others(
    secured: tuple[str, dict[str, str]], database_url: str
) -> None:
    url, pw = secured
    async with running_gateway(url, database_url, nats_user="gateway", nats_password=pw["gateway"]) as gw:
        worker = ReportWorker(
            ExportSettings(nats_url=url, database_url=database_url, nats_user="notion", nats_password=pw["notion"])
        )
        await worker.start()
        try:
            tenant, key = await gw.tenant()
            task_id, _ = await seed(gw.engine, tenant, [article(1), article(2)])
            async with AsyncClient(gw.address, key) as c:
                report = await c.wait_report((await c.export_report(str(task_id), "pdf")).id, timeout=60)
            assert report.status == report_pb2.REPORT_STATUS_SUCCEEDED, report.error
        finally:
            await worker.stop()
    pull = f"$JS.API.CONSUMER.MSG.NEXT.{subjects.JOBS_STREAM}.{subjects.REPORT_CONSUMER}"
    for user in ("parser", "ai", "notifier"):
        async with Connection(user, url, pw[user]) as other:
            await other.nc.publish(subjects.REPORT_SUBJECT, b"x")
            assert await other.refused(subjects.REPORT_SUBJECT), f"{user} may publish report jobs"
            await other.nc.publish(pull, b"1")
            assert await other.refused(pull), f"{user} may take report jobs"
