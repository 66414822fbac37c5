"""Bearer tokens and roles, kept hashed in a small SQLite file beside the store (never in a graph: the public
``/sparql`` must not be able to read them).

A token is 32 random bytes; only its SHA-256 is stored, which is enough for a secret of that strength (a slow
password hash protects guessable secrets, and these are not). Roles are ordered: each one may do what the ones
before it may.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

#: reader: read; contributor: import into their projects; curator: retire/restore, loads, vocabularies;
#: admin: everything, tokens included.
ROLES = ("reader", "contributor", "curator", "admin")
PREFIX = "egt_"  # makes a leaked token recognisable (secret scanners, logs)
FILE_NAME = "tokens.sqlite"


class TokenError(ValueError):
    """A token command that cannot be done (unknown role, duplicate or unknown name)."""


@dataclass(frozen=True)
class Token:
    name: str
    role: str
    projects: tuple[str, ...]
    created: str

    def allows(self, role: str) -> bool:
        """Whether this token's role is ``role`` or above."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def may_write_project(self, project: str) -> bool:
        """Contributors write only into the projects their token names (none named: any project)."""
        return self.allows("curator") or not self.projects or project in self.projects

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "role": self.role, "projects": list(self.projects), "created": self.created}


@dataclass(frozen=True)
class TokenChange:
    """One journalled change of the token table (``action``: token create, token revoke)."""

    seq: int
    action: str
    name: str
    detail: str
    agent: str
    time: str


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """The token table of one store: ``tokens.sqlite`` in the store directory (or in memory, for tests)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self._memory = sqlite3.connect(":memory:", check_same_thread=False) if path is None else None
        if self._memory is not None:
            self._create(self._memory)

    @classmethod
    def beside(cls, store_dir: str | Path | None) -> TokenStore:
        """The token store of an embedded store's directory (in memory when the store is)."""
        return cls(None if store_dir is None else Path(store_dir) / FILE_NAME)

    def _connect(self) -> sqlite3.Connection:
        if self._memory is not None:
            return self._memory
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30)
        self._create(connection)
        return connection

    @staticmethod
    def _create(connection: sqlite3.Connection) -> None:
        connection.execute("CREATE TABLE IF NOT EXISTS tokens (name TEXT PRIMARY KEY, digest TEXT UNIQUE NOT NULL, "
                           "role TEXT NOT NULL, projects TEXT NOT NULL, created TEXT NOT NULL)")
        # every change, in the same transaction as the change: the audit trail records them from here
        connection.execute("CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                           "action TEXT NOT NULL, name TEXT NOT NULL, detail TEXT NOT NULL, agent TEXT NOT NULL, "
                           "time TEXT NOT NULL)")
        connection.commit()

    @staticmethod
    def _journal(connection: sqlite3.Connection, action: str, name: str, detail: str, agent: str) -> None:
        connection.execute("INSERT INTO changes (action, name, detail, agent, time) VALUES (?, ?, ?, ?, ?)",
                           (action, name, detail, agent, _now()))

    def changes(self, after: int = -1) -> list[TokenChange]:
        """The changes journalled after sequence number ``after``, oldest first (those the trail lacks)."""
        if self.path is not None and not self.path.is_file():
            return []
        connection = self._connect()
        try:
            rows = connection.execute("SELECT seq, action, name, detail, agent, time FROM changes WHERE seq > ? "
                                      "ORDER BY seq", (after,)).fetchall()
        finally:
            self._close(connection)
        return [TokenChange(*row) for row in rows]

    def _close(self, connection: sqlite3.Connection) -> None:
        if connection is not self._memory:
            connection.close()

    def create(self, name: str, role: str, projects: list[str] | tuple[str, ...] = (), *,
               agent: str = "unknown") -> str:
        """A new token's secret (shown once, never stored); ``agent`` (who made it) goes into the journal."""
        if role not in ROLES:
            raise TokenError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
        if not name.strip() or any(ch in name for ch in "\n\r\t"):
            raise TokenError(f"token name {name!r}: give a non-empty name on one line")
        if any("\n" in p or "\t" in p for p in projects):
            raise TokenError("a project name is one line")
        secret = PREFIX + secrets.token_urlsafe(32)
        created = _now()
        connection = self._connect()
        try:
            with connection:
                connection.execute("INSERT INTO tokens VALUES (?, ?, ?, ?, ?)",
                                   (name, _digest(secret), role, "\t".join(projects), created))
                detail = f"role {role}" + (f"; projects {', '.join(projects)}" if projects else "")
                self._journal(connection, "token create", name, detail, agent)
        except sqlite3.IntegrityError:
            raise TokenError(f"a token named {name!r} exists already: revoke it first, or choose another name") \
                from None
        finally:
            self._close(connection)
        return secret

    def list(self) -> list[Token]:
        connection = self._connect()
        try:
            rows = connection.execute("SELECT name, role, projects, created FROM tokens ORDER BY name").fetchall()
        finally:
            self._close(connection)
        return [Token(name, role, tuple(p for p in projects.split("\t") if p), created)
                for name, role, projects, created in rows]

    def revoke(self, name: str, *, agent: str = "unknown") -> None:
        connection = self._connect()
        try:
            with connection:
                gone = connection.execute("DELETE FROM tokens WHERE name = ?", (name,)).rowcount
                if gone:
                    self._journal(connection, "token revoke", name, "", agent)
        finally:
            self._close(connection)
        if not gone:
            raise TokenError(f"no token named {name!r} (expgraph token list shows them)")

    def named(self, name: str) -> Token | None:
        """The token called ``name``, or None (a proxy's signed-in user has the role of the token of its name)."""
        return next((token for token in self.list() if token.name == name), None)

    def verify(self, secret: str) -> Token | None:
        """The token a secret belongs to, or None. Looked up by digest, so no secret is ever compared by time."""
        if self.path is not None and not self.path.is_file():
            return None
        connection = self._connect()
        try:
            row = connection.execute("SELECT name, role, projects, created FROM tokens WHERE digest = ?",
                                     (_digest(secret),)).fetchone()
        finally:
            self._close(connection)
        if row is None:
            return None
        name, role, projects, created = row
        return Token(name, role, tuple(p for p in projects.split("\t") if p), created)
