"""The sandbox's state: users, tokens, OAuth codes (media: see `media.py`), kept in SQLite.

One SQLite file (WAL) in INSTASCHED_DATA_DIR holds everything the sandbox knows, so a restart of
`instasched run` changes nothing (a post scheduled before it publishes after it), and every
process that serves the sandbox (API_WORKERS > 1, `instasched sandbox`) sees the same state.
Each request reads and writes through to the file: no cache to go stale between processes.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import aiohttp
from starlette.requests import Request
from starlette.types import Scope

SQLITE_FILE = "sandbox.sqlite3"
SHORT_LIVED_SECONDS = 3600
LONG_LIVED_SECONDS = 60 * 86400
# A Page token obtained with a long-lived Facebook user token has no expiry date.
NEVER_EXPIRES_SECONDS = 100 * 365 * 86400

# Which Graph host the current request reached: "instagram" (graph.instagram.com, the sandbox's
# root) or "facebook" (graph.facebook.com, under /facebook; set by app.FacebookHost).
GRAPH_HOST: ContextVar[str] = ContextVar("sandbox_graph_host", default="instagram")
# The `ig_user_id` of Facebook user tokens and codes: "fb:<facebook user id>" (no IG user).
FACEBOOK_SUBJECT = "fb:"


@dataclass
class SandboxUser:
    ig_user_id: str
    username: str
    timezone: str = "UTC"
    followers: int = 1000


@dataclass
class SandboxToken:
    token: str
    ig_user_id: str
    issued_at: float
    expires_at: float
    long_lived: bool
    # The host that issued it: an Instagram Login token is refused on graph.facebook.com and a
    # Facebook one on graph.instagram.com (error 190), as Meta does.
    host: str = "instagram"
    page_id: str | None = None  # a Page token: the Page (its IG account is `ig_user_id`)


@dataclass
class SandboxFacebookUser:
    fb_user_id: str
    name: str


@dataclass
class SandboxPage:
    page_id: str
    name: str
    fb_user_id: str
    ig_user_id: str | None = None  # the linked Instagram professional account


class GraphFault(Exception):
    """An error answer in the Graph API's format."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        subcode: int | None = None,
        status: int = 400,
        kind: str = "OAuthException",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.status = status
        self.kind = kind

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": "sandbox" + secrets.token_hex(6),
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


def invalid_token() -> GraphFault:
    return GraphFault("Invalid OAuth access token - Cannot parse access token", code=190)


def missing_object(object_id: str, *, get: bool = True) -> GraphFault:
    """Meta's answer about an object the token may not see (code 100, sub-code 33), worded
    "Unsupported get request" on a read and "Unsupported request" otherwise."""
    opening = "Unsupported get request. Object" if get else "Unsupported request: object"
    return GraphFault(
        f"{opening} with ID '{object_id}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation",
        code=100,
        subcode=33,
    )


def owner_check(
    sb: SandboxState, token: str | None, ig_user_id: str, *, get: bool = False
) -> SandboxUser:
    """The user of `token`, who must be the account `ig_user_id` (else `missing_object`)."""
    user, _ = sb.user_for_token(token)
    if user.ig_user_id != ig_user_id:
        raise missing_object(ig_user_id, get=get)
    return user


# Tables of records (a dataclass as JSON, by id, with one indexed column to find them by).
RECORD_TABLES = ("users", "tokens", "containers", "media", "fb_users", "pages")
SCHEMA = (
    "".join(
        f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, owner TEXT NOT NULL, "
        f"body TEXT NOT NULL);\nCREATE INDEX IF NOT EXISTS {table}_owner ON {table} (owner, id);\n"
        for table in RECORD_TABLES
    )
    + """
CREATE TABLE IF NOT EXISTS codes (
    code TEXT PRIMARY KEY, ig_user_id TEXT NOT NULL, expires_at REAL NOT NULL,
    redirect_uri TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS publications (owner TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS publications_owner_at ON publications (owner, at);
CREATE TABLE IF NOT EXISTS faults (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, endpoint TEXT NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS faults_owner_endpoint ON faults (owner, endpoint, seq);
CREATE TABLE IF NOT EXISTS quotas (owner TEXT PRIMARY KEY, total INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS container_creations (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS container_creations_owner_at ON container_creations (owner, at);
CREATE TABLE IF NOT EXISTS calls (
    owner TEXT NOT NULL, endpoint TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (owner, endpoint));
"""
)


class SandboxStore:
    """One SQLite connection per process (`None`: a private in-memory database).

    Statements run in autocommit mode on the event loop's thread: each takes microseconds, less
    than a hop to a thread. `transaction()` makes a check-then-write atomic across processes.
    """

    def __init__(self, path: Path | None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: created where the app is built, used on the server's thread.
        self.db = sqlite3.connect(
            str(path) if path is not None else ":memory:",
            isolation_level=None,
            check_same_thread=False,
            timeout=30.0,
        )
        self._sequences: set[str] = set()
        self.db.execute("PRAGMA journal_mode=WAL")
        # A commit survives a crash of the process (not of the machine): enough for a test double.
        self.db.execute("PRAGMA synchronous=NORMAL")
        with self.transaction():  # (executescript would COMMIT first)
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT: no other process writes in between (no await inside)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, params)

    def next_value(self, name: str, *, start: int, step: int = 1) -> int:
        """The next value of a named sequence, unique across processes and restarts."""
        if name not in self._sequences:  # once per process: a write less per id after that
            self.db.execute(
                "INSERT OR IGNORE INTO sequences (name, value) VALUES (?, ?)", (name, start - step)
            )
            self._sequences.add(name)
        row = self.db.execute(
            "UPDATE sequences SET value = value + ? WHERE name = ? RETURNING value", (step, name)
        ).fetchone()
        return int(row[0])

    def get_value(self, name: str) -> Any:
        row = self.db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_value(self, name: str, value: Any) -> None:
        self.db.execute(
            "INSERT INTO settings (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, json.dumps(value)),
        )

    def close(self) -> None:
        self.db.close()


T = TypeVar("T")
_RECORD_SQL = (
    "SELECT body FROM {table} WHERE id = ?",
    "INSERT OR REPLACE INTO {table} (id, owner, body) VALUES (?, ?, ?)",
    "SELECT body FROM {table} WHERE owner = ?",
    "SELECT body FROM {table}",
    "DELETE FROM {table} WHERE owner = ?",
    # Ids of one sequence have the same number of digits: text order is numeric order.
    "SELECT body FROM {table} WHERE owner = ? ORDER BY id DESC LIMIT ?",
    "DELETE FROM {table} WHERE id = ?",
)


class Records(Generic[T]):
    """A table of dataclass records by id, used like a dict; `owner_field` names the indexed
    column. A record changed after `get` is written back with `records[id] = record`."""

    def __init__(self, store: SandboxStore, table: str, kind: type[T], owner_field: str) -> None:
        assert table in RECORD_TABLES
        self.store = store
        self.kind = kind
        self.owner_field = owner_field
        # The table's name is one of RECORD_TABLES, never input.
        (
            self._get,
            self._put,
            self._of,
            self._all,
            self._delete_of,
            self._newest_of,
            self._delete,
        ) = (sql.replace("{table}", table) for sql in _RECORD_SQL)

    def _load(self, body: str) -> T:
        return self.kind(**json.loads(body))

    def get(self, key: str) -> T | None:
        row = self.store.execute(self._get, (key,)).fetchone()
        return None if row is None else self._load(row[0])

    def __getitem__(self, key: str) -> T:
        record = self.get(key)
        if record is None:
            raise KeyError(key)
        return record

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.store.execute(self._get, (key,)).fetchone() is not None

    def __setitem__(self, key: str, record: T) -> None:
        owner = str(getattr(record, self.owner_field))
        self.store.execute(self._put, (key, owner, json.dumps(vars(record))))

    def of(self, owner: str | None) -> list[T]:
        """The records of one owner (all with `None`)."""
        if owner is None:
            rows = self.store.execute(self._all).fetchall()
        else:
            rows = self.store.execute(self._of, (owner,)).fetchall()
        return [self._load(body) for (body,) in rows]

    def newest_of(self, owner: str, limit: int) -> list[T]:
        """The owner's `limit` records of the highest ids, highest first."""
        rows = self.store.execute(self._newest_of, (owner, limit)).fetchall()
        return [self._load(body) for (body,) in rows]

    def delete(self, key: str) -> bool:
        """Remove one record; False when there was none."""
        return bool(self.store.execute(self._delete, (key,)).rowcount)

    def delete_of(self, owner: str) -> int:
        return self.store.execute(self._delete_of, (owner,)).rowcount


class SandboxState:
    """Everything the sandbox knows (in `store`), and the per-process HTTP client."""

    def __init__(self, path: Path | None = None) -> None:
        self.store = SandboxStore(path)
        self.users = Records(self.store, "users", SandboxUser, "username")
        self.tokens = Records(self.store, "tokens", SandboxToken, "ig_user_id")
        self.fb_users = Records(self.store, "fb_users", SandboxFacebookUser, "name")
        self.pages = Records(self.store, "pages", SandboxPage, "fb_user_id")
        # Per-process helpers of the optional modules (media_state.MediaState).
        self.extras: dict[str, Any] = {}
        # Downloads image_url / video_url like Meta does. aiohttp rather than httpx: one fetch
        # per container, and httpx's client and pool cost ~1 ms of CPU per request here.
        self.http: aiohttp.ClientSession | None = None

    async def startup(self) -> None:
        if self.http is None or self.http.closed:
            self.http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=30.0, sock_connect=5.0),
                connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=2.0),
                cookie_jar=aiohttp.DummyCookieJar(),
                # The URL is fetched as given (a presigned URL's signature covers its encoding).
                requote_redirect_url=False,
            )

    async def shutdown(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None

    @property
    def app_usage(self) -> int | None:
        """The percentage reported in `X-App-Usage` (None: no header)."""
        value = self.store.get_value("app_usage")
        return None if value is None else int(value)

    @app_usage.setter
    def app_usage(self, value: int | None) -> None:
        self.store.set_value("app_usage", value)

    def next_id(self) -> str:
        return str(self.store.next_value("users", start=17841400000000001))

    def create_user(
        self, username: str, timezone: str = "UTC", followers: int = 1000
    ) -> SandboxUser:
        user = SandboxUser(
            ig_user_id=self.next_id(), username=username, timezone=timezone, followers=followers
        )
        self.users[user.ig_user_id] = user
        return user

    def user_named(self, username: str) -> SandboxUser | None:
        found = self.users.of(username)
        return min(found, key=lambda u: int(u.ig_user_id)) if found else None

    def issue_token(
        self,
        ig_user_id: str,
        *,
        long_lived: bool,
        host: str = "instagram",
        page_id: str | None = None,
        expires_at: float | None = None,
    ) -> SandboxToken:
        now = time.time()
        # Meta's prefixes: IG… for Instagram Login, EAA… for Facebook Login.
        prefix = ("IGSL" if long_lived else "IGSS") if host == "instagram" else "EAAS"
        lifetime = LONG_LIVED_SECONDS if long_lived else SHORT_LIVED_SECONDS
        token = SandboxToken(
            token=prefix + secrets.token_urlsafe(32),
            ig_user_id=ig_user_id,
            issued_at=now,
            expires_at=expires_at if expires_at is not None else now + lifetime,
            long_lived=long_lived,
            host=host,
            page_id=page_id,
        )
        self.tokens[token.token] = token
        return token

    def token_record(self, token: str | None) -> SandboxToken:
        """The unexpired token of the host this request reached, or Meta's error."""
        if not token:
            raise GraphFault("An active access token must be used", code=104)
        record = self.tokens.get(token)
        if record is None or record.host != GRAPH_HOST.get():
            # graph.facebook.com cannot parse an Instagram Login token, and the reverse.
            raise invalid_token()
        if record.expires_at <= time.time():
            raise GraphFault(
                "Error validating access token: Session has expired", code=190, subcode=463
            )
        return record

    # --- Facebook Login: Facebook users, their Pages, Page tokens ---------------------------
    def create_facebook_user(self, name: str) -> SandboxFacebookUser:
        user = SandboxFacebookUser(
            fb_user_id=str(self.store.next_value("fb_users", start=100000000000001)), name=name
        )
        self.fb_users[user.fb_user_id] = user
        return user

    def facebook_user_named(self, name: str) -> SandboxFacebookUser | None:
        found = self.fb_users.of(name)
        return min(found, key=lambda u: int(u.fb_user_id)) if found else None

    def add_page(self, fb_user_id: str, name: str, ig_user_id: str | None) -> SandboxPage:
        page = SandboxPage(
            page_id=str(self.store.next_value("pages", start=102000000000001)),
            name=name,
            fb_user_id=fb_user_id,
            ig_user_id=ig_user_id,
        )
        self.pages[page.page_id] = page
        return page

    def page_token(self, page: SandboxPage, user_token: SandboxToken) -> SandboxToken:
        """A Page token as `/me/accounts` gives it: without expiry when the user token is
        long-lived, else ending with the user token."""
        expires = (
            time.time() + NEVER_EXPIRES_SECONDS if user_token.long_lived else user_token.expires_at
        )
        return self.issue_token(
            page.ig_user_id or FACEBOOK_SUBJECT + page.fb_user_id,
            long_lived=user_token.long_lived,
            host="facebook",
            page_id=page.page_id,
            expires_at=expires,
        )

    def user_for_token(self, token: str | None) -> tuple[SandboxUser, SandboxToken]:
        record = self.token_record(token)
        user = self.users.get(record.ig_user_id)
        if user is None:
            raise invalid_token()
        return user, record

    def revoke_user_tokens(self, ig_user_id: str) -> int:
        return self.tokens.delete_of(ig_user_id)

    def add_code(self, code: str, ig_user_id: str, redirect_uri: str, *, ttl: float) -> None:
        self.store.execute(
            "INSERT INTO codes (code, ig_user_id, expires_at, redirect_uri) VALUES (?, ?, ?, ?)",
            (code, ig_user_id, time.time() + ttl, redirect_uri),
        )

    def redirect_with_code(self, subject: str, redirect_uri: str, state: str) -> str:
        """A consent screen's answer: a fresh single-use code (10 minutes) for `subject` (an IG
        user id, or FACEBOOK_SUBJECT + a Facebook user id), appended to `redirect_uri`."""
        code = secrets.token_urlsafe(24)
        self.add_code(code, subject, redirect_uri, ttl=600)
        separator = "&" if "?" in redirect_uri else "?"
        return redirect_uri + separator + urlencode({"code": code, "state": state})

    def redeem_code(self, code: str, redirect_uri: str | None, *, facebook: bool) -> str:
        """The subject of a valid code of this login (used up), or Meta's errors."""
        entry = self.take_code(code)
        if (
            entry is None
            or entry[1] < time.time()
            or entry[0].startswith(FACEBOOK_SUBJECT) != facebook
        ):
            raise GraphFault(
                "This authorization code has been used or expired", code=100, subcode=36007
            )
        if redirect_uri != entry[2]:
            # Meta requires the exact redirect_uri of the authorize step.
            raise GraphFault(
                "Error validating verification code. Please make sure your redirect_uri is "
                "identical to the one you used in the OAuth dialog request",
                code=100,
            )
        return entry[0]

    def take_code(self, code: str) -> tuple[str, float, str] | None:
        """(ig user id, expiry, redirect_uri) of an OAuth code, which is used up (single use)."""
        row = self.store.execute(
            "DELETE FROM codes WHERE code = ? RETURNING ig_user_id, expires_at, redirect_uri",
            (code,),
        ).fetchone()
        return None if row is None else (str(row[0]), float(row[1]), str(row[2]))


def sandbox(request: Request) -> SandboxState:
    """The state of the sandbox app serving the request."""
    state: SandboxState = request.app.state.sandbox
    return state


def route_path(scope: Scope) -> str:
    """The path inside the sandbox app (without the mount prefix, e.g. `/sandbox`)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :]
    return path
