"""uvicorn serving the page inside the daemon's own event loop (a task beside the OSC server).

The socket is bound here (so a busy port is reported at once, and port 0 gives a free one whose number is
known); uvicorn's own signal handling is switched off: the daemon decides when everything stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

log = logging.getLogger(__name__)

STARTUP_TIMEOUT = 10.0


def _uvicorn_server_class():
    import uvicorn

    class DaemonServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # the daemon's loop owns SIGINT/SIGTERM
            yield

        def install_signal_handlers(self) -> None:  # older uvicorn
            pass

    return uvicorn, DaemonServer


def bind(host: str, port: int) -> socket.socket:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(64)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("localhost" if host == "::" else host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


class WebServer:
    def __init__(self, ctx, host: str = "127.0.0.1", port: int = 9080) -> None:
        self.ctx = ctx
        self.host = host
        self.port = port
        self.url = ""
        self.api = None
        self._server = None
        self._task: asyncio.Task | None = None
        self._sock: socket.socket | None = None

    async def start(self) -> str:
        """Bind, start serving; returns the page's URL. OSError when the address cannot be bound."""
        from bridge.web.api import build_app
        from bridge.web.security import GuardMiddleware, allowed_hosts

        uvicorn, server_class = _uvicorn_server_class()
        self._sock = bind(self.host, self.port)
        port = self._sock.getsockname()[1]
        holder: dict = {}
        app, self.api = build_app(self.ctx, holder)
        guarded = GuardMiddleware(app, allowed_hosts(self.host, port))
        config = uvicorn.Config(guarded, log_config=None, log_level="warning", access_log=False, lifespan="off",
                                ws="none", http="h11", server_header=False, timeout_graceful_shutdown=2,
                                timeout_keep_alive=5, limit_concurrency=64)
        self._server = server_class(config)
        self._task = asyncio.ensure_future(self._server.serve(sockets=[self._sock]))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_TIMEOUT
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise OSError("the web server stopped during startup")
            if loop.time() > deadline:
                raise OSError(f"the web server did not start within {STARTUP_TIMEOUT:.0f} s")
            await asyncio.sleep(0.01)
        self.port = port
        self.url = url_for(self.host, port)
        holder["url"] = self.url
        self.ctx.info["web_url"] = self.url
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            except Exception as e:  # shutting down: report, never raise
                log.warning("web server stopped with %s", e)
        if self._sock is not None:
            self._sock.close()


async def start_web(ctx) -> WebServer | None:
    """The web page beside the OSC server, or None (with a warning) when it cannot be served: the page is a
    convenience, OSC and MIDI go on without it."""
    cfg = ctx.config
    if not getattr(cfg, "web", True):
        return None
    host, port = getattr(cfg, "web_host", "127.0.0.1"), getattr(cfg, "web_port", 9080)
    server = WebServer(ctx, host, port)
    try:
        url = await server.start()
    except ImportError as e:
        log.warning("no web page: %s (pip install starlette uvicorn)", e)
        return None
    except OSError as e:
        log.warning("no web page: cannot listen on %s:%d: %s (choose another with --web-port, or --no-web)",
                    host, port, e.strerror or e)
        await server.close()
        return None
    except Exception as e:  # the page must never keep the daemon from serving OSC and MIDI
        log.exception("no web page: %s", e)
        await server.close()
        return None
    log.info("web page on %s", url)
    return server
