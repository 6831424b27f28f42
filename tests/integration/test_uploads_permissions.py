"""Uploaded files under NATS least privilege (distill_core.nats_auth, as `distill up` runs it):
the gateway user stores a file, the parser user reads it with the parser's own code and
nothing more, and no other service can read, write or remove the bucket's content."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from distill_cli.embedded import NatsServer
from distill_core import nats as dnats
from distill_core import nats_auth, subjects
from distill_core.settings import Settings
from distill_gateway.upload_store import ObjectWriter, new_object_id
from distill_parser.files import read_upload

from tests.deploy.test_nats_accounts import Connection

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    d = tmp_path_factory.mktemp("uploads-nats")
    passwords = nats_auth.local_passwords(d)
    srv = NatsServer(d / "nats", extra_config=nats_auth.server_config(passwords)).start()
    yield srv.url, passwords
    srv.stop()


async def test_the_gateway_writes_the_parser_reads_and_nobody_else_gets_in(secured: tuple[str, dict[str, str]]) -> None:
    url, passwords = secured

    def settings(user: str) -> Settings:
        return Settings(nats_url=url, nats_user=user, nats_password=passwords[user])

    body = os.urandom(300_000)  # three chunks
    object_id = new_object_id()
    gateway = await dnats.connect(settings("gateway"), "test-gateway")
    parser = await dnats.connect(settings("parser"), "test-parser")
    try:
        js = dnats.jetstream(gateway)
        await dnats.ensure_topology(js, settings("gateway"))
        w = ObjectWriter(js, object_id, file_name="scan.tiff", content_type="image/tiff")
        await w.write(body)
        await w.close()
        got = await read_upload(dnats.jetstream(parser), subjects.upload_input(object_id, "scan.tiff"), 10**7)
        assert (got.body, got.file_name, got.content_type) == (body, "scan.tiff", "image/tiff")
    finally:
        await gateway.close()
        await parser.close()

    get = f"$JS.API.STREAM.MSG.GET.{subjects.UPLOADS_STREAM}"
    async with Connection("parser", url, passwords["parser"]) as p:
        for subject in (subjects.upload_chunks_subject(object_id), subjects.upload_meta_subject(object_id)):
            await p.nc.publish(subject, b"overwritten")
            assert await p.refused(subject), f"the parser may write {subject}"
        for api in ("PURGE", "DELETE"):  # (CREATE and UPDATE: every service keeps the topology)
            await p.nc.publish(f"$JS.API.STREAM.{api}.{subjects.UPLOADS_STREAM}", b"{}")
            assert await p.refused(f"$JS.API.STREAM.{api}.{subjects.UPLOADS_STREAM}"), api
        await p.nc.publish(f"$JS.API.CONSUMER.CREATE.{subjects.UPLOADS_STREAM}", b"{}")
        assert await p.refused(f"$JS.API.CONSUMER.CREATE.{subjects.UPLOADS_STREAM}")
        await p.nc.subscribe(f"$O.{subjects.UPLOADS_BUCKET}.>")
        assert await p.refused(f"$O.{subjects.UPLOADS_BUCKET}.>")
    for user in ("ai", "notion", "notifier"):
        async with Connection(user, url, passwords[user]) as c:
            await c.nc.publish(get, json.dumps({"last_by_subj": subjects.upload_meta_subject(object_id)}).encode())
            assert await c.refused(get), f"{user} may read uploaded files"
            await c.nc.publish(subjects.upload_chunks_subject(object_id), b"x")
            assert await c.refused(subjects.upload_chunks_subject(object_id)), f"{user} may write uploaded files"
