"""NATS as `distill up` configures it (distill_core.nats_auth, random passwords in the data dir):
no anonymous or wrong-password connection; each service user is refused what is not its own,
other users' reply inboxes included; the services' own connections work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from distill_cli.embedded import NatsServer
from distill_core import nats as dnats
from distill_core import nats_auth, subjects
from distill_core.settings import Settings

from tests.deploy.test_nats_accounts import Connection

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def up_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Path]]:
    d = tmp_path_factory.mktemp("up-nats")
    passwords = nats_auth.local_passwords(d)
    srv = NatsServer(d / "nats", extra_config=nats_auth.server_config(passwords)).start()
    yield srv.url, passwords, d
    srv.stop()


def test_passwords_are_random_private_and_kept(up_nats: tuple[str, dict[str, str], Path]) -> None:
    _, passwords, d = up_nats
    f = d / nats_auth.PASSWORDS_FILE
    assert oct(f.stat().st_mode & 0o777) == "0o600"
    assert set(passwords) == set(nats_auth.USERS) and len(set(passwords.values())) == len(passwords)
    assert all(len(p) >= 32 for p in passwords.values())
    assert nats_auth.local_passwords(d) == passwords, "a second `distill up` must find the same passwords"


async def test_no_anonymous_or_wrong_password_connection(up_nats: tuple[str, dict[str, str], Path]) -> None:
    url, passwords, _ = up_nats
    for creds in ({}, {"user": "parser", "password": passwords["ai"]}, {"user": "nobody", "password": "x" * 32}):
        with pytest.raises(Exception, match=r"(?i)authorization"):
            await nats.connect(url, max_reconnect_attempts=0, allow_reconnect=False, connect_timeout=3, **creds)


async def test_the_parser_user_is_refused_what_is_not_its_own(up_nats: tuple[str, dict[str, str], Path]) -> None:
    url, passwords, _ = up_nats
    async with Connection("parser", url, passwords["parser"]) as parser:
        for subject in ("distill.jobs.notion.normal", "distill.jobs.parse.high", "distill.dlq.notion"):
            await parser.nc.publish(subject, b"x")
            assert await parser.refused(subject), f"the parser may publish to {subject}"
        await parser.nc.publish("$JS.API.STREAM.DELETE.JOBS", b"")
        assert await parser.refused("$JS.API.STREAM.DELETE.JOBS")
        for subject in ("distill.events.>", "_INBOX.>", "_INBOX.gateway.>", "distill.jobs.>"):
            await parser.nc.subscribe(subject)
            assert await parser.refused(subject), f"the parser may subscribe to {subject}"
    async with Connection("notifier", url, passwords["notifier"]) as notifier:
        await notifier.nc.publish("distill.jobs.parse.normal", b"x")
        assert await notifier.refused("distill.jobs.parse.normal")
        await notifier.nc.subscribe("_INBOX.gateway.>")  # the gateway's JetStream answers: other tenants' events
        assert await notifier.refused("_INBOX.gateway.>")


async def test_services_work_as_their_own_users_with_their_own_inboxes(
    up_nats: tuple[str, dict[str, str], Path],
) -> None:
    url, passwords, _ = up_nats

    def settings(user: str) -> Settings:
        return Settings(nats_url=url, nats_user=user, nats_password=passwords[user])

    gateway = await dnats.connect(settings("gateway"), "test-gateway")
    parser = await dnats.connect(settings("parser"), "test-parser")
    try:
        await dnats.ensure_topology(dnats.jetstream(gateway), settings("gateway"))  # answers on _INBOX.gateway.*
        info = await dnats.jetstream(parser).consumer_info(subjects.JOBS_STREAM, subjects.job_consumer("parse", "high"))
        assert info.name == "parse-high"
    finally:
        await gateway.close()
        await parser.close()
    # A connection with the shared default inbox gets no answers: its reply subscription is refused.
    async with Connection("gateway", url, passwords["gateway"]) as raw:
        with pytest.raises(Exception):  # noqa: B017 (a time-out or the permission error, as nats-py reports it)
            await raw.nc.request("$JS.API.INFO", b"", timeout=1)
        assert await raw.refused("_inbox.")
