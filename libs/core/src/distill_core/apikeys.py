"""Tenants and API keys: created by the CLI, checked by every public RPC.

A key is shown once. We store its first characters (to find it and to show it in
listings) and its SHA-256; the check compares digests in constant time. Keys are long
random strings, so a fast hash is the right one (there is nothing to brute-force).

A key may expire (`expires_at`) and be revoked; either way `verify` answers None, as for
an unknown key, and the caller cannot tell which. An `admin` key may also see the
deployment-wide views (workers, queue lanes); everything else stays per tenant.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from distill_core.db.models import ApiKey, Tenant

PREFIX_LEN = 12
MAX_KEY_LENGTH = 512
_ALPHABET = string.ascii_letters + string.digits
TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,99}$")


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    key_id: uuid.UUID
    admin: bool = False


# Compared against when no row has the key's prefix, so that a miss costs what a wrong key does.
_NO_MATCH = hashlib.sha256(b"no key has this prefix").hexdigest()


def generate_key() -> str:
    """dk_<9 random>_<32 random>: the first 12 characters are the lookup prefix."""
    return (
        "dk_"
        + "".join(secrets.choice(_ALPHABET) for _ in range(9))
        + "_"
        + "".join(secrets.choice(_ALPHABET) for _ in range(32))
    )


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def prefix_of(key: str) -> str:
    return key[:PREFIX_LEN]


def tenant_id_for(name: str) -> str:
    """A subject-safe id derived from nothing secret: lower-case slug plus randomness."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "tenant"
    return f"{slug}-{secrets.token_hex(4)}"


async def ensure_tenant(conn: AsyncConnection, name: str) -> str:
    """The id of the tenant called `name`, created when new."""
    if not TENANT_NAME.match(name):
        raise ValueError(f"invalid tenant name {name!r}: letters, digits, space, . _ @ - (1-100 characters)")
    row = (await conn.execute(select(Tenant.id).where(Tenant.name == name))).first()
    if row:
        return str(row[0])
    tid = tenant_id_for(name)
    await conn.execute(
        text("INSERT INTO tenants (id, name) VALUES (:id, :name) ON CONFLICT (name) DO NOTHING"),
        {"id": tid, "name": name},
    )
    return str((await conn.execute(select(Tenant.id).where(Tenant.name == name))).scalar_one())


async def create_key(
    conn: AsyncConnection,
    tenant: str,
    *,
    key: str | None = None,
    name: str = "",
    expires_at: datetime | None = None,
    admin: bool = False,
) -> tuple[str, uuid.UUID]:
    """Create a key for the tenant called `tenant` (created if new). Returns (key, key id).

    `key` lets a deployment choose the value (DISTILL_DEV_API_KEY); an existing key with
    that value is reused rather than duplicated (and made admin when `admin` asks for it).
    """
    tenant_id = await ensure_tenant(conn, tenant)
    key = key or generate_key()
    if len(key) < 16:
        raise ValueError("an API key must be at least 16 characters long")
    if len(key) > MAX_KEY_LENGTH or any(c.isspace() or ord(c) < 33 or ord(c) > 126 for c in key):
        raise ValueError(f"an API key must be printable ASCII without spaces, at most {MAX_KEY_LENGTH} characters")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ValueError("the expiry time is in the past")
    existing = (
        await conn.execute(
            select(ApiKey.id, ApiKey.tenant_id, ApiKey.admin).where(
                ApiKey.key_hash == digest(key), ApiKey.revoked_at.is_(None)
            )
        )
    ).first()
    if existing:
        if existing.tenant_id != tenant_id:
            raise ValueError("that key value belongs to another tenant")
        if admin and not existing.admin:
            await conn.execute(update(ApiKey).where(ApiKey.id == existing.id).values(admin=True))
        return key, existing.id
    kid = uuid.uuid4()
    await conn.execute(
        ApiKey.__table__.insert().values(
            id=kid,
            tenant_id=tenant_id,
            prefix=prefix_of(key),
            key_hash=digest(key),
            name=name,
            expires_at=expires_at,
            admin=admin,
        )
    )
    return key, kid


async def verify(conn: AsyncConnection, key: str) -> Caller | None:
    """The caller a key belongs to, or None (unknown, revoked or expired: not said which)."""
    found = await verify_row(conn, key)
    return found[0] if found else None


async def verify_row(conn: AsyncConnection, key: str) -> tuple[Caller, datetime | None] | None:
    """verify(), with the key's expiry time: (caller, expires_at) or None."""
    if not key or len(key) < 16 or len(key) > MAX_KEY_LENGTH:
        return None
    want = digest(key)
    rows = (
        await conn.execute(
            select(
                ApiKey.id, ApiKey.tenant_id, ApiKey.key_hash, ApiKey.revoked_at, ApiKey.expires_at, ApiKey.admin
            ).where(ApiKey.prefix == prefix_of(key))
        )
    ).all()
    now = datetime.now(UTC)
    found: tuple[Caller, datetime | None] | None = None
    for r in rows or [None]:
        same = hmac.compare_digest(r.key_hash if r else _NO_MATCH, want)
        if r and same and r.revoked_at is None and (r.expires_at is None or r.expires_at > now):
            found = (Caller(tenant_id=r.tenant_id, key_id=r.id, admin=bool(r.admin)), r.expires_at)
    return found


async def touch(conn: AsyncConnection, key_id: uuid.UUID) -> None:
    """Record that a key was used (at most once a minute per key: `keys list` shows it)."""
    await conn.execute(
        text(
            "UPDATE api_keys SET last_used_at = now() WHERE id = :id "
            "AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')"
        ),
        {"id": key_id},
    )


async def list_keys(conn: AsyncConnection, tenant: str | None = None) -> list[dict[str, object]]:
    q = (
        select(
            ApiKey.id,
            ApiKey.prefix,
            ApiKey.name,
            Tenant.name.label("tenant"),
            ApiKey.admin,
            ApiKey.created_at,
            ApiKey.expires_at,
            ApiKey.revoked_at,
            ApiKey.last_used_at,
        )
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .order_by(ApiKey.created_at)
    )
    if tenant:
        q = q.where(Tenant.name == tenant)
    return [dict(r._mapping) for r in (await conn.execute(q)).all()]


async def revoke(conn: AsyncConnection, key_or_prefix_or_id: str) -> int:
    """Revoke by key id, full key or prefix; returns how many keys were revoked."""
    v = key_or_prefix_or_id.strip()
    cond = ApiKey.prefix == v
    try:
        cond = ApiKey.id == uuid.UUID(v)
    except ValueError:
        if len(v) > PREFIX_LEN:
            cond = ApiKey.key_hash == digest(v)
    res = await conn.execute(
        update(ApiKey).where(cond, ApiKey.revoked_at.is_(None)).values(revoked_at=datetime.now(UTC))
    )
    return int(res.rowcount or 0)
