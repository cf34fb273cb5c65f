"""Who is calling: the admin key, integration keys with scopes, agent tokens.

Every request carries ``Authorization: Bearer <secret>``:

- the **admin key** (environment variable ``OPENWFM_ADMIN_KEY``) may do everything; with
  several centers it names one with the ``center`` query parameter;
- an **integration key** (``POST /v1/keys {scopes}``) belongs to one center and may do what its
  scopes allow (``contacts:create``, ``contacts:read``, ``contacts:write``, ``customers:write``,
  ``events:read``, ``stats:read``, ``agents:read``, ``intraday:read``, ``intraday:write``);
- an **agent token** (``POST /v1/agents/{id}/token``) belongs to one agent of one center: its
  presence, its offers and the contacts assigned to it, nothing else (403).

Keys are ``owk_<key id>.<secret>``; only a SHA-256 of the secret is stored, and a key can be
revoked. A key never sees another center's data: the center comes from the key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from openwfm.routing import store as S
from openwfm.routing.problems import BadRequest, Forbidden, Unauthorized

SCOPES = (
    "contacts:create",
    "contacts:read",
    "contacts:write",
    "customers:write",
    "events:read",
    "stats:read",
    "agents:read",
    "intraday:read",
    "intraday:write",
)


@dataclass(frozen=True)
class Principal:
    kind: str  # admin | integration | agent
    center: str
    agent_id: str | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("only the admin key may do this", field="Authorization")

    def require_scope(self, scope: str) -> None:
        if self.is_admin or scope in self.scopes:
            return
        raise Forbidden(f"this key lacks the scope {scope!r}", field="Authorization")

    def require_agent(self, agent_id: str) -> None:
        """The admin, or the token of this very agent."""
        if self.is_admin or (self.kind == "agent" and self.agent_id == agent_id):
            return
        raise Forbidden(f"this token may not act for agent {agent_id!r}", field="Authorization")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def authenticate(
    store: S.Store,
    admin_key: str,
    centers: Collection[str],
    authorization: str | None,
    center: str | None,
) -> Principal:
    """The caller behind an ``Authorization`` header, bound to one center."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthorized("a Bearer token is required", field="Authorization")
    token = authorization[len("Bearer ") :].strip()
    if hmac.compare_digest(token.encode(), admin_key.encode()):
        if center is None:
            if len(centers) > 1:
                raise BadRequest(
                    f"several centers are served ({', '.join(centers)}): name one", field="center"
                )
            center = next(iter(centers))
        elif center not in centers:
            raise BadRequest(f"unknown center {center!r}", field="center")
        return Principal("admin", center)
    key_id, _, secret = token.partition(".")
    if not key_id.startswith("owk_") or not secret:
        raise Unauthorized("unknown token", field="Authorization")
    with store.read() as connection:
        row = connection.execute(select(S.api_keys).where(S.api_keys.c.key_id == key_id)).first()
    if row is None or row.revoked or not hmac.compare_digest(row.secret_hash, _digest(secret)):
        raise Unauthorized("unknown or revoked token", field="Authorization")
    if center is not None and center != row.center:
        raise Forbidden("this key belongs to another center", field="center")
    return Principal(row.kind, row.center, row.agent_id, frozenset(row.scopes))


def create_key(
    store: S.Store, center: str, kind: str, scopes: Iterable[str] = (), agent_id: str | None = None
) -> str:
    """A new key; returns the full secret (shown once)."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise BadRequest(
            f"unknown scope {unknown[0]!r} (known: {', '.join(SCOPES)})", field="scopes"
        )
    key_id = f"owk_{secrets.token_hex(8)}"
    secret = secrets.token_urlsafe(24)
    with store.write() as connection:
        connection.execute(
            insert(S.api_keys).values(
                key_id=key_id,
                center=center,
                kind=kind,
                agent_id=agent_id,
                scopes=list(scopes),
                secret_hash=_digest(secret),
                revoked=False,
            )
        )
    return f"{key_id}.{secret}"


def revoke_agent_tokens(store: S.Store, center: str, agent_id: str) -> int:
    k = S.api_keys.c
    with store.write() as connection:
        return connection.execute(
            update(S.api_keys)
            .where(k.center == center, k.kind == "agent", k.agent_id == agent_id)
            .values(revoked=True)
        ).rowcount


def revoke_key(store: S.Store, center: str, key_id: str) -> int:
    k = S.api_keys.c
    with store.write() as connection:
        return connection.execute(
            update(S.api_keys).where(k.center == center, k.key_id == key_id).values(revoked=True)
        ).rowcount
