"""Who may talk to the web server: only pages the daemon served itself, on the address it listens on.

A web page in the user's browser must not be able to drive the daemon:
- DNS rebinding: a foreign name that resolves to 127.0.0.1 arrives with a foreign `Host` -> refused.
- Cross-site requests: a foreign page's fetch/form carries its own `Origin` (refused), and every request a
  browser makes from a foreign page carries `Sec-Fetch-Site: cross-site`/`same-site` (refused for all but a
  top-level navigation to the page itself, which does nothing).
- JSON POSTs must say `application/json` (a cross-site form cannot send that without a preflight, which
  this server never answers).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
     b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
]


def allowed_hosts(host: str, port: int) -> tuple[str, ...]:
    """`Host` header values that name this server: loopback names and the bound address, with the port."""
    names = list(LOOPBACK_NAMES)
    bound = f"[{host}]" if ":" in host and not host.startswith("[") else host
    if bound not in names and bound not in ("0.0.0.0", "[::]"):
        names.append(bound)
    out = [f"{n}:{port}" for n in names]
    if port == 80:  # browsers leave the default port out
        out += names
    return tuple(out)


class GuardMiddleware:
    """Pure ASGI: refuses requests not from this server's own pages, adds security headers to the rest."""

    def __init__(self, app, hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.hosts: tuple[str, ...] = tuple(h.lower() for h in hosts)

    def set_hosts(self, hosts: Iterable[str]) -> None:
        self.hosts = tuple(h.lower() for h in hosts)

    def refusal(self, scope) -> str:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "").strip().lower()
        if host not in self.hosts:
            return f"refused: Host {host[:80]!r} is not this daemon's ({', '.join(self.hosts[:3])})"
        origin = headers.get("origin")
        if origin is not None and origin.strip().lower() not in {f"http://{h}" for h in self.hosts}:
            return f"refused: Origin {origin[:80]!r} is not this daemon's page (http://{self.hosts[0]})"
        site = headers.get("sec-fetch-site", "").lower()
        method = scope.get("method", "GET")
        navigation = headers.get("sec-fetch-mode", "").lower() == "navigate" and method == "GET"
        path = scope.get("path", "/")
        if site in ("cross-site", "same-site") and not (navigation and not path.startswith("/api/")):
            return f"refused: a {site} request (only this daemon's own page may call it)"
        if method not in ("GET", "HEAD", "POST"):
            return f"refused: method {method} (GET, HEAD or POST)"
        if method == "POST":
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            allowed = ("application/json", "audio/midi", "audio/x-midi", "application/octet-stream")
            if ctype not in allowed:
                return f"refused: Content-Type {ctype[:60]!r} (must be one of {', '.join(allowed)})"
        return ""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return  # websockets: not served
        reason = self.refusal(scope)
        if reason:
            log.warning("web: %s %s %s", scope.get("method"), scope.get("path"), reason)
            body = json.dumps({"error": reason}).encode()
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]})
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
