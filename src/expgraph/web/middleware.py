"""The app's ASGI middleware, ahead of routing: security headers on every response, and request size limits.

Plain ASGI rather than ``@app.middleware``, whose request/response wrapping costs noticeably per request.

Size limits: a long request target gets 414, a large body 413, before any route sees it. A body is refused by its
``Content-Length`` when it declares one, else counted as it arrives (chunked uploads), so the app never holds more
than ``max_body_kb`` of any request (direct POSTs of large bodies used to raise the server's memory by hundreds of
MB). The limits run ahead of routing, form parsing and the runner.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Scripts and styles only from this server; no inline script, no framing, no plugins.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


_SECURITY_HEADERS = ((b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                     (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY"))


class SecurityHeaders:
    """Adds the security headers a response does not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in _SECURITY_HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _TooLarge(Exception):
    pass


class RequestLimits:
    """ASGI middleware: 414 over ``max_target`` bytes of path and query string, 413 over ``max_body`` bytes."""

    def __init__(self, app: ASGIApp, max_body: int, max_target: int) -> None:
        self.app, self.max_body, self.max_target = app, max_body, max_target

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if target > self.max_target:
            await _refuse(send, 414, f"request target of {target} bytes is longer than the {self.max_target} "
                                     "bytes allowed (setting max_url_length); POST long queries instead")
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await _refuse(send, 413, self._too_large())
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            if not started:
                await _refuse(send, 413, self._too_large())

    def _too_large(self) -> str:
        return f"request body is larger than the {self.max_body // 1024} KB allowed (setting max_body_kb)"


async def _refuse(send: Send, status: int, message: str) -> None:
    body = (message + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
