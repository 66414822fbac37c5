"""The request gate, ahead of every route: who is asking (a bearer token), whether they may read anonymously,
and uploads spooled to a file before any route runs.

Uploads (``PUT /api/v1/graphs``) are refused before their body is read when the token or the content type is
wrong, and otherwise written to a temporary file, counted against ``max_upload_mb``. Only a complete body reaches
the route: a client that disconnects mid-upload leaves a partial file that is deleted, and nothing else happens.
The route then sees an empty body and the file's path in ``request.state.upload`` (so the general body limit,
``max_body_kb``, keeps guarding every other route).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from expgraph.settings import SettingsError
from expgraph.team.proxy import ProxyTrust
from expgraph.team.tokens import Token, TokenStore

UPLOAD_PATH = "/api/v1/graphs"
UPLOAD_TYPES = ("application/n-triples", "application/n-quads")
#: Routes anyone may call: how a client recognises an expgraph server.
OPEN_PATHS = ("/api/v1/info",)
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
POLICIES = ("auto", "on", "off")


def anonymous_read_allowed(policy: str, host: str) -> bool:
    """The ``anonymous_read`` setting: ``on``, ``off``, or ``auto``: on when the server listens on loopback only
    (nobody else can reach it), off otherwise."""
    if policy not in POLICIES:
        raise SettingsError(f"setting 'anonymous_read': {policy!r} is not one of {', '.join(POLICIES)}")
    if policy == "auto":
        return host in LOOPBACK_HOSTS or host.startswith("127.")
    return policy == "on"


class TeamGate:
    """ASGI middleware: sets ``request.state.token`` (a :class:`Token` or None) and ``request.state.may_read``;
    refuses unauthenticated reads where anonymous reading is off; spools uploads (see the module doc)."""

    def __init__(self, app: ASGIApp, tokens: TokenStore, max_upload: int, spool_dir: str | None = None,
                 proxy: ProxyTrust | None = None) -> None:
        self.app, self.tokens, self.max_upload, self.spool_dir = app, tokens, max_upload, spool_dir
        self.proxy = proxy  # a reverse proxy's signed-in user header, when trusted (see expgraph.team.proxy)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from expgraph.web.sparql import client_of  # the visitor's address, behind a proxy too
        from expgraph.web.state import state_of

        request = Request(scope)
        api = scope["path"].startswith("/api/")
        header = request.headers.get("authorization", "")
        token: Token | None = None
        if header:
            scheme, _, secret = header.partition(" ")
            token = self.tokens.verify(secret.strip()) if scheme.lower() == "bearer" else None
            if token is None:
                await _refuse(send, 401, "the token is not valid (revoked, mistyped, or for another server); send "
                                         "Authorization: Bearer TOKEN", api)
                return
        elif self.proxy is not None:
            token = self.proxy.user(request.headers, request.client.host if request.client else None, self.tokens)
        client = client_of(request)
        settings = state_of(request).settings
        may_read = token is not None or anonymous_read_allowed(settings.anonymous_read, settings.host)
        state = scope.setdefault("state", {})
        state.update(token=token, may_read=may_read, client=client)
        if not may_read and scope["path"] not in OPEN_PATHS:
            await _refuse(send, 401, "this catalog needs a token to read: send Authorization: Bearer TOKEN "
                                     "(expgraph --token / EXPGRAPH_TOKEN)", api)
            return
        if scope["method"] == "PUT" and scope["path"] == UPLOAD_PATH:
            await self._upload(scope, receive, send, request, token)
            return
        await self.app(scope, receive, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, request: Request, token: Token | None) -> None:
        if token is None:
            await _refuse(send, 401, "writing needs a token: send Authorization: Bearer TOKEN", True)
            return
        if not token.allows("contributor"):
            await _refuse(send, 403, f"token {token.name!r} has the role {token.role}: writing needs contributor "
                                     "or above", True)
            return
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in UPLOAD_TYPES:
            await _refuse(send, 415, f"upload a graph as {' or '.join(UPLOAD_TYPES)}, not "
                                     f"{content_type or '(no content type)'}", True)
            return
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_upload:
            await _refuse(send, 413, self._too_large(), True)
            return
        handle, path = tempfile.mkstemp(prefix="expgraph-upload-", suffix=".nq", dir=self.spool_dir)
        try:
            size = 0
            with os.fdopen(handle, "wb") as spool:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return  # the client went away mid-upload: nothing was applied
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_upload:
                        await _refuse(send, 413, self._too_large(), True)
                        return
                    spool.write(chunk)
                    if not message.get("more_body", False):
                        break
            headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-length", b"transfer-encoding")]
            inner = {**scope, "headers": [*headers, (b"content-length", b"0")]}
            inner["state"] = {**scope["state"], "upload": path}
            await self.app(inner, _empty_body(receive), send)
        finally:
            with contextlib.suppress(OSError):
                Path(path).unlink()

    def _too_large(self) -> str:
        return f"upload larger than the {self.max_upload / 2**20:g} MB allowed (setting max_upload_mb)"


def _empty_body(receive: Receive) -> Receive:
    """The body as the route sees it: empty (its content is in the spool file), then whatever comes next."""
    sent = False

    async def inner() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return inner


async def _refuse(send: Send, status: int, message: str, api: bool) -> None:
    body = (json.dumps({"detail": message}) if api else message + "\n").encode()
    media = b"application/json" if api else b"text/plain; charset=utf-8"
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="expgraph"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
