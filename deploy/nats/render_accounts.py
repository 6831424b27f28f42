"""Write deploy/nats/accounts.yaml: NATS accounts, users and permissions for Distill.

    .venv/bin/python deploy/nats/render_accounts.py          # rewrite accounts.yaml
    .venv/bin/python deploy/nats/render_accounts.py --check  # exit 1 if it is stale

The permissions are derived from distill_core.subjects (stream, subject and durable
names) and from what the services' code does on the wire, so a renamed subject or a new
stage changes them here too. tests/deploy/test_nats_accounts.py checks that the committed
file is fresh and runs the real services' code against a nats-server configured from it.

`permissions(user)` and `nats_conf(accounts, passwords)` are reusable (e.g. by `distill up`
to generate a local nats.conf with the same least-privilege users).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from distill_core import subjects as s

HERE = Path(__file__).resolve().parent
ACCOUNTS_FILE = HERE / "accounts.yaml"
ACCOUNT = "DISTILL"
SECRET = "distill-nats-auth"
WORKERS = {"parse": "parser", "ai": "ai", "notion": "notion"}  # stage -> NATS user (= service)
SERVICES = ("gateway", *WORKERS.values(), "notifier")
KV_STREAM = f"KV_{s.WORKERS_BUCKET}"


def password_var(user: str) -> str:
    return f"NATS_{user.upper()}_PASSWORD"


def streams() -> list[str]:
    """The streams ensure_topology creates (from distill_core.nats, so a new one is picked up)."""
    from distill_core.nats import stream_configs
    from distill_core.settings import Settings

    return [str(c.name) for c in stream_configs(Settings())]


def _topology() -> list[str]:
    """ensure_topology: every service creates or updates the streams and the notifier's durable."""
    out = []
    for stream in streams():
        out += [f"$JS.API.STREAM.CREATE.{stream}", f"$JS.API.STREAM.UPDATE.{stream}"]
    out += _durable(s.EVENTS_STREAM, s.NOTIFIER_CONSUMER, pull=False)
    return out


def _durable(stream: str, consumer: str, *, pull: bool = True) -> list[str]:
    """Create / look up a durable consumer (both API forms nats-py uses), and pull + ack from it."""
    out = [
        f"$JS.API.CONSUMER.INFO.{stream}.{consumer}",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{consumer}",
        f"$JS.API.CONSUMER.CREATE.{stream}.{consumer}",
        f"$JS.API.CONSUMER.CREATE.{stream}.{consumer}.>",
    ]
    if pull:
        out += [f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}", f"$JS.ACK.{stream}.{consumer}.>"]
    return out


def permissions(user: str) -> dict[str, Any]:
    """The publish/subscribe allow-lists of one service's NATS user."""
    if user == "gateway":
        publish = [
            "$JS.API.>",  # topology, WatchTask ordered consumers, Admin RPCs (stats, DLQ, workers KV)
            "$JS.FC.>",  # flow-control replies of ordered consumers
            *(f"{s.JOBS_PREFIX}.{stage}.*" for stage in s.STAGES),  # CreateTask, relay, janitor, retries
            f"{s.EVENTS_PREFIX}.>",
            s.CANCEL_SUBJECT,
        ]
        return {"publish": {"allow": publish}, "subscribe": {"allow": ["_INBOX.>"]}}
    if user == "notifier":
        publish = [*_topology(), *_durable(s.EVENTS_STREAM, s.NOTIFIER_CONSUMER)]
        return {"publish": {"allow": _unique(publish)}, "subscribe": {"allow": ["_INBOX.>"]}}
    stage = {v: k for k, v in WORKERS.items()}.get(user)
    if stage is None:
        raise ValueError(f"unknown Distill service {user!r} (one of {', '.join(SERVICES)})")
    consumers = [s.job_consumer(stage, p) for p in s.PRIORITIES]
    after = s.STAGES[s.STAGES.index(stage) + 1 :]
    publish = [
        *_topology(),
        f"$JS.API.STREAM.INFO.{KV_STREAM}",
        f"$JS.API.STREAM.CREATE.{KV_STREAM}",
        *(subject for c in consumers for subject in _durable(s.JOBS_STREAM, c)),
        # max-deliveries backstop: the stage's durable on ADVISORIES, then read the poison job
        *_durable(s.ADVISORIES_STREAM, s.advisory_consumer(stage)),
        f"$JS.API.STREAM.MSG.GET.{s.JOBS_STREAM}",
        f"$JS.API.STREAM.MSG.DELETE.{s.JOBS_STREAM}",  # ... and remove it from the work queue
        f"$KV.{s.WORKERS_BUCKET}.>",  # heart-beats
        *([f"{s.JOBS_PREFIX}.{after[0]}.*"] if after else []),  # the hand-off to the next stage
        f"{s.EVENTS_PREFIX}.>",
        s.dlq_subject(stage),
    ]
    subscribe = ["_INBOX.>", s.CANCEL_SUBJECT]
    return {"publish": {"allow": _unique(publish)}, "subscribe": {"allow": subscribe}}


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def accounts() -> dict[str, Any]:
    users: list[dict[str, Any]] = [
        {
            "user": "admin",
            "password": f"<< ${password_var('admin')} >>",
            "permissions": {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}},
        }
    ]
    users += [
        {"user": svc, "password": f"<< ${password_var(svc)} >>", "permissions": permissions(svc)} for svc in SERVICES
    ]
    return {
        "SYS": {"users": [{"user": "sys", "password": f"<< ${password_var('sys')} >>"}]},
        ACCOUNT: {"jetstream": "enabled", "users": users},
    }


def values() -> dict[str, Any]:
    """The Helm values: config.merge (nats.conf) and the password variables from the Secret."""
    env = {
        password_var(u): {"valueFrom": {"secretKeyRef": {"name": SECRET, "key": u}}}
        for u in ("sys", "admin", *SERVICES)
    }
    return {"config": {"merge": {"system_account": "SYS", "accounts": accounts()}}, "container": {"env": env}}


HEADER = """\
# NATS accounts, users and permissions for Distill: the ONE place they are defined.
# GENERATED by deploy/nats/render_accounts.py from distill_core.subjects; edit that script,
# not this file (tests/deploy/test_nats_accounts.py fails when this file is stale).
#
# A Helm values file for the official NATS chart, used together with values.yaml:
#   helm upgrade --install nats nats/nats -n distill \\
#     -f deploy/nats/values.yaml -f deploy/nats/accounts.yaml
#
# Each service connects as its own user (DISTILL_NATS_USER / DISTILL_NATS_PASSWORD) and may
# publish and subscribe only to its own subjects. Passwords come from the Secret
# distill-nats-auth (keys sys, admin, gateway, parser, ai, notion, notifier) through the
# server's environment: the chart writes "<< $VAR >>" unquoted and nats-server reads $VAR.
#
#   gateway   publishes jobs for any stage, events, cancels; the JetStream API (WatchTask,
#             Admin RPCs); subscribes only to its reply inbox
#   parser/ai/notion  pull from and ack their own three durables (<stage>-high|normal|low)
#             and their durable on ADVISORIES (advisory-<stage>: max-deliveries), publish the
#             next stage's jobs (parse->ai->notion), events, their own DLQ subject and KV
#             heart-beats; subscribe to cancels
#   notifier  pulls from and acks the EVENTS durable "notifier"
#   every service may create/update the streams: each calls ensure_topology at start-up
#   admin     everything in the account (operators, with the nats CLI)
"""


def render() -> str:
    import yaml

    body = yaml.safe_dump(values(), sort_keys=False, default_flow_style=False, width=120)
    return HEADER + "\n" + body


_VAR = re.compile(r'"<< (.*?) >>"')


def nats_conf(merge: dict[str, Any], passwords: dict[str, str] | None = None) -> str:
    """config.merge rendered as the chart does (JSON; "<< X >>" unquoted), for nats-server.

    With `passwords` (user -> password), the $NATS_<USER>_PASSWORD variables are replaced by
    the quoted values instead of being left for the server's environment.
    """
    text = json.dumps(merge, indent=2)
    if passwords:
        for user, pw in passwords.items():
            text = text.replace(f'"<< ${password_var(user)} >>"', json.dumps(pw))
    text = _VAR.sub(lambda m: m.group(1), text)
    return text.strip()[1:-1]  # the top-level keys, without the braces


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if ACCOUNTS_FILE.read_text() != text:
            print(f"{ACCOUNTS_FILE} is stale: run python deploy/nats/render_accounts.py", file=sys.stderr)
            return 1
        return 0
    ACCOUNTS_FILE.write_text(text)
    print(f"wrote {ACCOUNTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
