"""A stack's state and locks read straight from the state backend, where that is possible.

Pulumi's DIY backends keep every stack under one key layout, whatever stores the keys:
`.pulumi/stacks/<project>/<stack>.json` (the checkpoint; `.json.gz` when compressed),
`.pulumi/locks/organization/<project>/<stack>/<id>.json` (one object per running update:
pid, username, hostname, timestamp), `.pulumi/history/...`, `.pulumi/backups/...`.
- `file://DIR`: files under DIR.
- `postgres://USER:PASSWORD@HOST:PORT/DB?table=T`: rows of table T (default `pulumi_state`)
  of database DB, `key` the path prefixed with `DB/` (the URL's path), `data` a JSON object
  whose `data` is the object's bytes in base64. Each object is written by one
  `INSERT ... ON CONFLICT DO UPDATE`, so a row is never seen half-written.
- S3, GCS, Azure Blob: objects of a bucket (not read here: their SDKs are not dependencies).

This module reads the first two without running the engine and without the passphrase.
Where it cannot (another backend, a server it cannot reach), it answers None and the caller
asks the engine instead (`pulumi stack export`, the engine's own lock check), which works on
every backend; reading here is only the fast path.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import gzip
import json
import os
import re
import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

BOOKKEEPING = ".pulumi"


class Store(Protocol):
    """Read access to the objects of a DIY backend, by key (slash-separated path)."""

    def read(self, key: str) -> bytes | None: ...

    def exists(self, key: str) -> bool: ...

    def keys(self, prefix: str) -> list[str]: ...


class StoreError(Exception):
    """The backend could not be read (unreachable server, missing driver, bad URL)."""


@dataclass(frozen=True)
class FileStore:
    """A `file://` backend: keys are paths under its folder."""

    root: Path

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as err:
            raise StoreError(f"cannot read {self.root / key}: {err.strerror}") from err

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def keys(self, prefix: str) -> list[str]:
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in folder.iterdir() if p.is_file())


IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


@dataclass(frozen=True)
class PostgresStore:
    """A `postgres://` backend: rows of one table, keys under the database's prefix."""

    url: str

    @property
    def parts(self) -> urllib.parse.SplitResult:
        return urllib.parse.urlsplit(self.url)

    @property
    def table(self) -> str:
        query = urllib.parse.parse_qs(self.parts.query)
        table = (query.get("table") or ["pulumi_state"])[0]
        if not IDENTIFIER.match(table):
            raise StoreError(f"table={table!r} in the backend URL is not a plain table name")
        return table

    @property
    def prefix(self) -> str:
        path = urllib.parse.unquote(self.parts.path).strip("/")
        return f"{path}/" if path else ""

    def read(self, key: str) -> bytes | None:
        rows = _query(
            self.url, f"SELECT data::text FROM {self.table} WHERE key = :key", key=self.prefix + key
        )
        if not rows:
            return None
        try:
            return base64.b64decode(json.loads(rows[0][0])["data"])
        except (ValueError, KeyError, TypeError) as err:
            raise StoreError(
                f"row {key!r} of {self.table} is not an object of the backend"
            ) from err

    def exists(self, key: str) -> bool:
        sql = f"SELECT 1 FROM {self.table} WHERE key = :key"
        return bool(_query(self.url, sql, key=self.prefix + key))

    def keys(self, prefix: str) -> list[str]:
        full = self.prefix + prefix.rstrip("/") + "/"
        rows = _query(
            self.url,
            f"SELECT key FROM {self.table} WHERE left(key, :n) = :prefix ORDER BY key",
            n=len(full),
            prefix=full,
        )
        return [str(row[0])[len(self.prefix) :] for row in rows if "/" not in row[0][len(full) :]]


def _query(url: str, sql: str, **params: Any) -> list[list[Any]]:
    """Run one read on the backend's database; a missing table reads as no rows."""
    try:
        connection = _connect(url)
        if connection.run("SELECT to_regclass(:t)::text", t=PostgresStore(url).table)[0][0] is None:
            return []
        return connection.run(sql, **params)
    except StoreError:
        raise
    except Exception as err:  # noqa: BLE001 - the driver's errors: the caller falls back
        _connect.cache_clear()
        raise StoreError(f"the state database could not be read: {type(err).__name__}") from err


@functools.cache
def _connect(url: str) -> Any:
    """One connection per backend URL and process (the same environment as the engine's)."""
    try:
        import pg8000.native
    except ImportError as err:
        raise StoreError("pg8000 is not installed") from err
    parts = urllib.parse.urlsplit(url)
    query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
    host = query.get("host") or parts.hostname or os.environ.get("PGHOST") or "localhost"
    args: dict[str, Any] = {
        "user": urllib.parse.unquote(parts.username or "")
        or os.environ.get("PGUSER")
        or _login_name(),
        "password": urllib.parse.unquote(parts.password or "") or os.environ.get("PGPASSWORD"),
        "database": urllib.parse.unquote(parts.path.strip("/"))
        or os.environ.get("PGDATABASE")
        or None,
        "timeout": float(query.get("connect_timeout") or 10),
        "application_name": "release-train",
    }
    port = parts.port or int(query.get("port") or os.environ.get("PGPORT") or 5432)
    if host.startswith("/"):
        args["unix_sock"] = f"{host}/.s.PGSQL.{port}"
    else:
        args["host"], args["port"] = host, port
        args["ssl_context"] = _ssl_context(
            query.get("sslmode") or os.environ.get("PGSSLMODE"), query
        )
    return pg8000.native.Connection(**args)


def _login_name() -> str:
    import getpass

    return getpass.getuser()


def _ssl_context(mode: str | None, query: dict[str, str]) -> ssl.SSLContext | None:
    """TLS as the engine's driver does it: `require` (its default) encrypts without checking
    the certificate; `verify-ca` and `verify-full` check it."""
    if mode in ("disable", "allow", "prefer"):
        return None
    context = ssl.create_default_context(cafile=query.get("sslrootcert"))
    if mode == "verify-full":
        return context
    context.check_hostname = False
    if mode != "verify-ca":
        context.verify_mode = ssl.CERT_NONE
    return context


def store_for(backend_url: str) -> Store | None:
    """The store of a backend this module reads, or None (ask the engine)."""
    if backend_url.startswith("file://"):
        return FileStore(Path(backend_url.removeprefix("file://").split("?", 1)[0]).expanduser())
    if backend_url.startswith(("postgres://", "postgresql://")):
        return PostgresStore(backend_url)
    return None


def checkpoint(backend_url: str, project: str, stack: str) -> dict[str, Any] | None:
    """The stack's checkpoint document (`{"version": 3, "checkpoint": {...}}`), or None when
    this backend is not read here, holds no checkpoint for the stack, or cannot be read now."""
    store = store_for(backend_url)
    if store is None:
        return None
    base = f"{BOOKKEEPING}/stacks/{project}/{stack}.json"
    try:
        for key, unpack in ((base, bytes), (f"{base}.gz", gzip.decompress)):
            raw = store.read(key)
            if raw is not None:
                data = json.loads(unpack(raw))
                return data if isinstance(data, dict) else None
    except (StoreError, ValueError, OSError, EOFError):
        return None
    return None


def has_stack(backend_url: str, project: str, stack: str) -> bool:
    """Whether the backend is known (read here) to hold the stack; False when unknown."""
    store = store_for(backend_url)
    if store is None:
        return False
    base = f"{BOOKKEEPING}/stacks/{project}/{stack}.json"
    try:
        return store.exists(base) or store.exists(f"{base}.gz")
    except StoreError:
        return False


@dataclass(frozen=True)
class Lock:
    """The lock of an update in progress: where it is stored, and who took it, where, when."""

    where: str
    pid: int | None
    hostname: str | None
    username: str | None = None
    since: dt.datetime | None = None

    def holder(self) -> str:
        """`user@host (pid N)`, with what is known."""
        who = f"{self.username}@" if self.username else ""
        where = self.hostname or "an unknown host"
        pid = f" (pid {self.pid})" if self.pid is not None else ""
        return f"{who}{where}{pid}"

    def age(self, now: dt.datetime | None = None) -> str:
        """`since 2026-11-26 14:03:12 UTC (4 min ago)`, or `since an unknown time`."""
        if self.since is None:
            return "since an unknown time"
        now = now or dt.datetime.now(dt.UTC)
        seconds = max(0, int((now - self.since).total_seconds()))
        if seconds < 120:
            ago = f"{seconds} s"
        elif seconds < 7200:
            ago = f"{seconds // 60} min"
        else:
            ago = f"{seconds // 3600} h {seconds % 3600 // 60} min"
        return f"since {self.since.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC ({ago} ago)"


def parse_time(text: Any) -> dt.datetime | None:
    """An RFC 3339 time as the engine writes it (nanoseconds, `Z` or an offset), in UTC."""
    if not isinstance(text, str):
        return None
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text.strip())
    if not match:
        return None
    whole, fraction, zone = match.groups()
    stamp = whole + (fraction[:7] if fraction else "") + ("+00:00" if zone in (None, "Z") else zone)
    try:
        return dt.datetime.fromisoformat(stamp).astimezone(dt.UTC)
    except ValueError:
        return None


def parse_lock(where: str, text: str | bytes) -> Lock:
    """A lock object's holder; unreadable content gives a lock with no known holder."""
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    pid, host, user = data.get("pid"), data.get("hostname"), data.get("username")
    return Lock(
        where,
        pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        host if isinstance(host, str) else None,
        user if isinstance(user, str) else None,
        parse_time(data.get("timestamp")),
    )


def lock_prefixes(project: str, stack: str) -> list[str]:
    """Where a stack's locks are kept: project-scoped stacks, then the legacy layout."""
    return [
        f"{BOOKKEEPING}/locks/organization/{project}/{stack}",
        f"{BOOKKEEPING}/locks/{stack}",
    ]


def locks(backend_url: str, project: str, stack: str) -> list[Lock] | None:
    """The stack's locks, or None when this backend's locks are not read here."""
    store = store_for(backend_url)
    if store is None:
        return None
    found: list[Lock] = []
    try:
        for prefix in lock_prefixes(project, stack):
            for key in store.keys(prefix):
                if key.endswith(".json"):
                    raw = store.read(key)
                    if raw is not None:
                        found.append(parse_lock(key, raw))
    except StoreError:
        return None
    return found


ENGINE_LOCK_LINE = re.compile(
    r"created by (?P<user>\S*?)@(?P<host>[^@\s]+) \(pid (?P<pid>\d+)\) at (?P<at>\S+)"
)


def locks_in_engine_error(text: str) -> list[Lock]:
    """The holders the engine names when it refuses an update of a locked DIY stack."""
    return [
        Lock(
            "engine",
            int(m["pid"]),
            m["host"],
            m["user"] or None,
            parse_time(m["at"]),
        )
        for m in ENGINE_LOCK_LINE.finditer(text)
    ]
