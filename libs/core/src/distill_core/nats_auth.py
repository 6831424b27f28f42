"""NATS least privilege: one user per service, allowed only its own subjects.

The ONE place the permissions are defined. `deploy/nats/render_accounts.py` renders them
as Helm values for Kubernetes (deploy/nats/accounts.yaml); `distill up` renders the same
accounts into the embedded nats-server's configuration with random passwords kept in
the data folder (`local_passwords`). Permissions are derived from distill_core.subjects
(stream, subject and durable names) and from what the services' code does on the wire,
so a renamed subject or a new stage changes them everywhere.

Replies: every connection with a user name gets its own inbox prefix (`_INBOX.<user>`,
see distill_core.nats.connect), and each user may subscribe only to its own inboxes.
With the default shared `_INBOX.>` any service could read every other service's pull
deliveries and JetStream API answers (other tenants' events included).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from distill_core import subjects as s

ACCOUNT = "DISTILL"
SYSTEM_ACCOUNT = "SYS"
ADMIN = "admin"
WORKERS = {"parse": "parser", "ai": "ai", "notion": "notion"}  # stage -> NATS user (= service)
REPORT_WORKER = "notion"  # the export service also makes reports (distill.jobs.report)
SERVICES = ("gateway", *WORKERS.values(), "notifier")
USERS = ("sys", ADMIN, *SERVICES)
KV_STREAM = f"KV_{s.WORKERS_BUCKET}"
PASSWORDS_FILE = "nats-auth.json"


def inbox_prefix(user: str) -> str:
    """The reply-subject prefix of a connection as `user` (its inboxes are `_INBOX.<user>.*`)."""
    return f"_INBOX.{user}"


def password_var(user: str) -> str:
    """The server-side environment variable holding a user's password (Kubernetes)."""
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


def _inbox(user: str) -> str:
    return f"{inbox_prefix(user)}.>"


def permissions(user: str) -> dict[str, Any]:
    """The publish/subscribe allow-lists of one service's NATS user."""
    if user == "gateway":
        publish = [
            "$JS.API.>",  # topology, WatchTask ordered consumers, Admin RPCs (stats, DLQ, workers KV)
            "$JS.FC.>",  # flow-control replies of ordered consumers
            *(f"{s.JOBS_PREFIX}.{stage}.*" for stage in s.STAGES),  # CreateTask, relay, janitor, retries
            f"{s.EVENTS_PREFIX}.>",
            s.CANCEL_SUBJECT,
            f"$O.{s.UPLOADS_BUCKET}.>",  # UploadFiles writes the files' chunks and descriptions
            s.REPORT_SUBJECT,  # ExportTaskReport, janitor
        ]
        # the live feed JetStream republishes events to (one subscription per tenant with watchers)
        return {"publish": {"allow": publish}, "subscribe": {"allow": [_inbox(user), f"{s.LIVE_PREFIX}.>"]}}
    if user == "notifier":
        publish = [*_topology(), *_durable(s.EVENTS_STREAM, s.NOTIFIER_CONSUMER)]
        return {"publish": {"allow": _unique(publish)}, "subscribe": {"allow": [_inbox(user)]}}
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
        # the parser reads uploaded files, message by message (no consumer, nothing written)
        *([f"$JS.API.STREAM.MSG.GET.{s.UPLOADS_STREAM}"] if stage == "parse" else []),
        *(_durable(s.JOBS_STREAM, s.REPORT_CONSUMER) if user == REPORT_WORKER else []),
    ]
    subscribe = [_inbox(user), s.CANCEL_SUBJECT]
    return {"publish": {"allow": _unique(publish)}, "subscribe": {"allow": subscribe}}


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def accounts(passwords: dict[str, str] | None = None) -> dict[str, Any]:
    """The SYS and DISTILL accounts. Without `passwords`, each password is the placeholder
    `<< $NATS_<USER>_PASSWORD >>` that the NATS Helm chart leaves for the server's environment."""

    def pw(user: str) -> str:
        return passwords[user] if passwords else f"<< ${password_var(user)} >>"

    everything = {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
    users: list[dict[str, Any]] = [{"user": ADMIN, "password": pw(ADMIN), "permissions": everything}]
    users += [{"user": svc, "password": pw(svc), "permissions": permissions(svc)} for svc in SERVICES]
    return {
        SYSTEM_ACCOUNT: {"users": [{"user": "sys", "password": pw("sys")}]},
        ACCOUNT: {"jetstream": "enabled", "users": users},
    }


_VAR = re.compile(r'"<< (.*?) >>"')


def nats_conf(merge: dict[str, Any], passwords: dict[str, str] | None = None) -> str:
    """A config.merge dict rendered as the Helm chart does (JSON; "<< X >>" unquoted), for nats-server.

    With `passwords` (user -> password), the $NATS_<USER>_PASSWORD variables are replaced by
    the quoted values instead of being left for the server's environment.
    """
    text = json.dumps(merge, indent=2)
    if passwords:
        for user, pw in passwords.items():
            text = text.replace(f'"<< ${password_var(user)} >>"', json.dumps(pw))
    text = _VAR.sub(lambda m: m.group(1), text)
    return text.strip()[1:-1]  # the top-level keys, without the braces


def server_config(passwords: dict[str, str]) -> str:
    """The authorization part of a nats-server configuration with these passwords."""
    return nats_conf({"system_account": SYSTEM_ACCOUNT, "accounts": accounts(passwords)})


def new_passwords() -> dict[str, str]:
    return {user: secrets.token_urlsafe(24) for user in USERS}


def local_passwords(data_dir: Path) -> dict[str, str]:
    """The passwords of a local deployment, made once and kept in DATA_DIR/nats-auth.json (mode 0600)."""
    path = data_dir / PASSWORDS_FILE
    try:
        saved = json.loads(path.read_text())
        if isinstance(saved, dict) and all(isinstance(saved.get(u), str) and saved[u] for u in USERS):
            return {u: saved[u] for u in USERS}
    except (OSError, ValueError):
        pass
    fresh = new_passwords()
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(fresh, f, indent=2)
    tmp.replace(path)
    return fresh
