"""The JSON API the page uses (documented in docs/web.md). Everything reads through the daemon's services:
searches and file reads go to the search worker (ctx.search), playback to the one scheduler (ctx.midi),
audio to a FluidSynth subprocess. Nothing here reads a path a request names.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bridge import __version__, paths
from bridge.daemon.protocol import ProtocolError
from bridge.daemon.search_service import parse_filters
from bridge.web.audio import FORMATS, AudioUnavailable, Renderer
from bridge.web.clips import ClipCache, OutsideLibrary, download_name, inside_roots, notes_json, piece_midi
from bridge.web.library import LibraryPanel

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
MAX_UPLOAD = 1 << 20  # bytes: a MIDI file to search by example (a long piano piece is ~100 kB)
MAX_JSON = 64 << 10  # bytes of a JSON request body
MAX_TEXT = 500  # characters of query text
MAX_K = 100
FILTER_FIELDS = ("key", "mode", "meter", "tempo", "instrument", "min_bars")
AT_CHOICES = ("bar", "beat", "now")
GENERATE_PLACEHOLDER = "coming with live generation"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"cache-control": "no-store"})


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"cache-control": "no-store"})


def protocol_status(e: ProtocolError) -> int:
    reason = e.reason
    if isinstance(e, OutsideLibrary):
        return 403
    if reason.startswith(("no search with id", "rank must be")):
        return 404
    if reason.startswith(("library still loading", "busy:", "search worker not started")):
        return 503
    if reason.startswith(("no MIDI output", "no library configured")):
        return 409
    return 400


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) beyond `limit` bytes, whether or not Content-Length says so."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, f"Content-Length must be a number of bytes, got {declared[:20]!r}")
        if int(declared) > limit:
            raise ApiError(413, f"request body too large: {int(declared)} bytes (at most {limit})")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body too large: more than {limit} bytes (at most {limit})")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request) -> dict:
    body = await read_body(request, MAX_JSON)
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"body must be a JSON object: {e}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"body must be a JSON object, got {type(data).__name__}")
    return data


def query_filters(data: dict) -> dict[str, Any]:
    """JSON filter fields -> SearchQuery keyword arguments, validated like the OSC filters (same messages)."""
    unknown = sorted(set(data) - set(FILTER_FIELDS) - {"text", "k", "like"})
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}: fields are text, k, {', '.join(FILTER_FIELDS)}")
    words = []
    for name in FILTER_FIELDS:
        value = data.get(name)
        if value is None or value == "" or value == []:
            continue
        if name == "tempo" and isinstance(value, (list, tuple)):
            if len(value) != 2 or not all(isinstance(v, (int, float)) for v in value):
                raise ApiError(400, f"tempo must be [lo, hi] in BPM or 'lo-hi', got {value!r}")
            value = f"{value[0]}-{value[1]}"
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ApiError(400, f"{name} must be a string or a number, got {type(value).__name__}")
        words.append(f"{name}={value}")
    try:
        return parse_filters(tuple(words))
    except ProtocolError as e:
        raise ApiError(400, e.reason) from None


def query_k(value: Any, default: int = 10) -> int:
    if value is None or value == "":
        return default
    try:
        k = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"k must be an int in 1..{MAX_K}, got {value!r}") from None
    if isinstance(value, bool) or not 1 <= k <= MAX_K or (isinstance(value, float) and value != k):
        raise ApiError(400, f"k must be an int in 1..{MAX_K}, got {value!r}")
    return k


class WebApi:
    def __init__(self, ctx, url_holder: dict) -> None:
        self.ctx = ctx
        self.url = url_holder  # {"url": ...}: filled in once the socket is bound
        home = paths.data_dir()
        self.renderer = Renderer(home / "previews")
        self.uploads = home / "web-uploads"
        self.clips = ClipCache()
        self.library = LibraryPanel(ctx)
        self._searches = 0  # web search n is the daemon's search id -n: never one an OSC client can use (>= 0)
        self._play = None
        self._tasks: set[asyncio.Task] = set()
        self.indexing: dict = {"running": False, "stage": "", "done": 0, "total": 0, "report": None, "error": "",
                               "started": None, "finished": None}

    # ---- helpers -------------------------------------------------------------------------------------------

    def _search_id(self) -> int:
        self._searches += 1
        return self._searches

    def _hit(self, request: Request) -> tuple[int, int, Any]:
        try:
            sid, rank = int(request.path_params["sid"]), int(request.path_params["rank"])
        except ValueError:
            raise ApiError(404, "hit URLs are /api/hits/SEARCH/RANK/... with two numbers") from None
        try:
            return sid, rank, self.ctx.search.hit(-sid, rank)
        except ProtocolError as e:
            if e.reason.startswith("no search with id"):
                raise ApiError(404, f"no search {sid} from this page (the daemon keeps the last searches; "
                                    "search again)") from None
            raise ApiError(404, e.reason.replace(f"search {-sid}", f"search {sid}")) from None

    async def _clip(self, hit: Any):
        """(piece, MIDI bytes) of a hit, read by the worker; only from inside the indexed folders."""
        real = inside_roots(hit.file, self.ctx.search.library_roots())
        try:
            version = os.stat(real).st_mtime_ns
        except OSError:
            raise ApiError(404, f"the file of this hit is gone: {Path(hit.file).name!r}") from None
        cached = self.clips.get(hit, version)
        if cached is not None:
            return cached
        piece = await self.ctx.search.load_hit_piece(hit)
        midi = piece_midi(piece)
        self.clips.put(hit, piece, midi, version)
        return piece, midi

    def hit_json(self, sid: int, rank: int, hit: Any) -> dict:
        base = f"/api/hits/{sid}/{rank}"
        d = hit.to_dict()
        d.update(rank=rank, id=f"{sid}/{rank}", name=Path(str(hit.file)).name,
                 bar_count=int(hit.window_end_bar) - int(hit.window_start_bar) + 1,
                 download_name=download_name(hit),
                 urls={"notes": f"{base}/notes", "wav": f"{base}/audio.wav", "ogg": f"{base}/audio.ogg",
                       "midi": f"{base}/clip.mid", "play": f"{base}/play"})
        return d

    async def _search(self, query: dict, **extra: Any) -> dict:
        sid = self._search_id()
        outcome = await self.ctx.search.search(-sid, **query, **extra)
        return {"search_id": sid, "milliseconds": round(outcome.milliseconds, 2), "count": len(outcome.hits),
                "hits": [self.hit_json(sid, i, h) for i, h in enumerate(outcome.hits)]}

    # ---- endpoints -----------------------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    async def status(self, request: Request) -> Response:
        midi = self.ctx.midi.status()
        live = getattr(self.ctx, "live", None)
        return ok({
            "version": __version__, "url": self.url.get("url"), "uptime": round(time.monotonic() - self.ctx.started, 1),
            "library": self.ctx.search.status(), "audio": self.renderer.status(),
            "midi": {"backend": midi["backend"], "problem": midi["problem"], "ports": midi["ports"],
                     "tempo": midi["clock"]["bpm"], "running": midi["clock"]["running"],
                     "sounding": midi["sounding"], "pending": midi["pending"]},
            "generate": {"available": live is not None,
                         "message": GENERATE_PLACEHOLDER if live is None else "live generation is available"},
            "limits": {"upload_bytes": MAX_UPLOAD, "k": MAX_K, "text": MAX_TEXT},
        })

    async def search(self, request: Request) -> Response:
        data = await read_json(request)
        text = data.get("text") or ""
        if not isinstance(text, str):
            raise ApiError(400, f"text must be a string, got {type(text).__name__}")
        text = " ".join(text.split())
        if len(text) > MAX_TEXT:
            raise ApiError(400, f"text must be at most {MAX_TEXT} characters, got {len(text)}")
        filters = query_filters(data)
        if not text and not filters:
            raise ApiError(400, "text must be a non-empty string (or give at least one filter)")
        result = await self._search({"text": text or None, "k": query_k(data.get("k")), **filters})
        result["query"] = {"text": text, **{k: data.get(k) for k in FILTER_FIELDS if data.get(k) not in (None, "")}}
        return ok(result)

    async def search_example(self, request: Request) -> Response:
        """Body: a MIDI file (Content-Type audio/midi); filters and k as query parameters."""
        params = dict(request.query_params)
        k = query_k(params.pop("k", None))
        filters = query_filters(params)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json":
            raise ApiError(415, "send the MIDI file itself as the body (Content-Type audio/midi)")
        body = await read_body(request, MAX_UPLOAD)
        if not body.startswith(b"MThd"):
            raise ApiError(400, "the upload is not a MIDI file (it must start with 'MThd')")
        self.uploads.mkdir(parents=True, exist_ok=True)
        tmp = self.uploads / f"{uuid.uuid4().hex}.mid"
        tmp.write_bytes(body)
        try:
            piece = await self.ctx.search.load_file(str(tmp))  # parsed in the worker, never here
        except ProtocolError as e:
            raise ApiError(400, e.reason.replace(repr(str(tmp)), "the upload")) from None
        finally:
            tmp.unlink(missing_ok=True)
        if len(piece.notes) == 0:
            raise ApiError(400, "the uploaded MIDI file has no notes")
        result = await self._search({"like_piece": piece, "k": k, **filters})
        result["query"] = {"example": {"notes": len(piece.notes), "quarters": round(piece.end, 3),
                                       "bytes": len(body)}}
        return ok(result)

    async def search_phrase(self, request: Request) -> Response:
        data = await read_json(request)
        piece = self.ctx.midi.last_phrase
        if piece is None:
            raise ApiError(409, "no captured phrase yet: play a phrase into the 'midibridge in' port first")
        filters = query_filters({k: v for k, v in data.items() if k != "k"})
        result = await self._search({"like_piece": piece, "k": query_k(data.get("k")), **filters})
        result["query"] = {"phrase": {"notes": len(piece.notes), "quarters": round(piece.end, 3)}}
        return ok(result)

    async def hit(self, request: Request) -> Response:
        sid, rank, hit = self._hit(request)
        return ok(self.hit_json(sid, rank, hit))

    async def notes(self, request: Request) -> Response:
        sid, rank, hit = self._hit(request)
        piece, _ = await self._clip(hit)
        return ok({"id": f"{sid}/{rank}", **notes_json(piece, hit)})

    async def midi(self, request: Request) -> Response:
        _, _, hit = self._hit(request)
        _, midi = await self._clip(hit)
        name = download_name(hit)
        return Response(midi, media_type="audio/midi",
                        headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"})

    async def audio(self, request: Request) -> Response:
        fmt = request.path_params["fmt"]
        if fmt not in FORMATS:
            raise ApiError(404, f"audio format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        _, _, hit = self._hit(request)
        _, midi = await self._clip(hit)
        try:
            path = await self.renderer.render(midi, fmt)
        except AudioUnavailable as e:
            raise ApiError(503, str(e)) from None
        except RuntimeError as e:
            raise ApiError(500, f"audio rendering failed: {e}") from None
        return FileResponse(path, media_type=FORMATS[fmt][1],
                            headers={"cache-control": "private, max-age=3600"})

    def _player(self):
        """The player of /midibridge/play/hit (bridge.daemon.handlers.play): the same checks, the same scheduler."""
        if self._play is None:
            from bridge.daemon.handlers import play

            self._play = play.Player(self.ctx)
        return self._play

    async def play(self, request: Request) -> Response:
        from bridge.daemon.handlers.play import MAX_NOTES

        data = await read_json(request)
        at = data.get("at", "bar")
        if at not in AT_CHOICES:
            raise ApiError(400, f"at must be one of {', '.join(AT_CHOICES)}, got {at!r}")
        sid, rank, hit = self._hit(request)
        inside_roots(hit.file, self.ctx.search.library_roots())
        player = self._player()
        player._require_output()
        clip = await self.ctx.search.hit_clip(hit, MAX_NOTES)  # events prepared in the worker
        beat, notes, state = await player.schedule(clip, at)
        log.info("web: %s %s bars %d-%d into the DAW (beat %.2f)", state, Path(hit.file).name,
                 hit.window_start_bar, hit.window_end_bar, beat)
        return ok({"id": f"{sid}/{rank}", "start_beat": round(beat, 4), "notes": notes, "at": at, "state": state})

    async def stop(self, request: Request) -> Response:
        await read_json(request)
        return ok({"cancelled": self._player().stop()})

    async def library_stats(self, request: Request) -> Response:
        refresh = request.query_params.get("refresh") in ("1", "true")
        try:
            return ok(await self.library.stats(refresh))
        except RuntimeError as e:
            raise ApiError(500, str(e)) from None

    async def library_index(self, request: Request) -> Response:
        """Start a re-index of every library folder (the daemon's /midibridge/library/index); 202 + progress."""
        await read_json(request)
        info = self.library.index_info()
        if not info["available"]:
            raise ApiError(501, info["problem"])
        if self.indexing["running"]:
            raise ApiError(409, "an index run is already in progress")
        request_id = -self._search_id()
        self.indexing = {"running": True, "stage": "starting", "done": 0, "total": 0, "report": None, "error": "",
                         "started": time.time(), "finished": None}
        task = asyncio.ensure_future(self._index(request_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return ok(self.indexing, status=202)

    async def library_index_state(self, request: Request) -> Response:
        return ok({**self.indexing, **self.library.index_info()})

    async def _index(self, request_id: int) -> None:
        state = self.indexing

        def progress(payload: Any) -> None:
            try:
                stage, done, total = payload
                state.update(stage=str(stage), done=int(done), total=int(total))
            except (TypeError, ValueError):
                state.update(stage=str(payload))

        try:
            state["report"] = await self.ctx.search.index(request_id, progress)
            state["stage"] = "done"
        except ProtocolError as e:
            state["error"] = e.reason
        except Exception as e:
            log.exception("web: re-index failed")
            state["error"] = f"{type(e).__name__}: {e}"
        finally:
            state.update(running=False, finished=time.time())
            self.library.forget()

    def _generate_info(self) -> dict:
        live = getattr(self.ctx, "live", None)
        if live is None:
            return {"available": False, "message": GENERATE_PLACEHOLDER}
        out: dict = {"available": True, "message": "live generation: start a stream into the DAW from here"}
        try:
            out["state"] = {k: v for k, v in live.state_pairs()}
            out["status"] = live.status()
        except Exception as e:  # the jam is young: its state must never break the page
            out["state_problem"] = f"{type(e).__name__}: {e}"
        return out

    def _live(self):
        live = getattr(self.ctx, "live", None)
        if live is None:
            raise ApiError(501, f"generation is {GENERATE_PLACEHOLDER} (this daemon runs without it)")
        return live

    async def generate(self, request: Request) -> Response:
        return ok(self._generate_info())

    async def generate_start(self, request: Request) -> Response:
        """{"prompt": "a slow waltz in D minor", "controls": ["tempo=90", ...]}: a stream into the DAW."""
        data = await read_json(request)
        prompt, controls = data.get("prompt", ""), data.get("controls", [])
        if not isinstance(prompt, str) or len(prompt) > MAX_TEXT:
            raise ApiError(400, f"prompt must be a string of at most {MAX_TEXT} characters")
        if not isinstance(controls, list) or not all(isinstance(c, str) and len(c) <= 100 for c in controls):
            raise ApiError(400, "controls must be a list of name=value strings")
        live = self._live()
        start, _ = await live.start(" ".join(prompt.split()), tuple(controls))
        return ok({"start_beat": round(float(start), 4), **self._generate_info()})

    async def generate_stop(self, request: Request) -> Response:
        await read_json(request)
        bars = self._live().stop_stream()
        return ok({"bars_played": int(bars), **self._generate_info()})

    async def not_found(self, request: Request) -> Response:
        return error(404, f"no such endpoint: {request.method} {request.url.path} (see docs/web.md)")


def wrap(handler):
    """Every failure becomes one JSON line {"error": ...} with a fitting status; the daemon never falls over."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as e:
            return error(e.status, e.message)
        except ProtocolError as e:
            return error(protocol_status(e), e.reason)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug must not take the daemon down; it is logged with its traceback
            log.exception("web: %s %s failed", request.method, request.url.path)
            return error(500, f"internal error: {type(e).__name__}: {e}")

    return endpoint


def build_app(ctx, url_holder: dict) -> tuple[Starlette, WebApi]:
    api = WebApi(ctx, url_holder)
    hit = "/api/hits/{sid}/{rank}"
    routes = [
        Route("/", wrap(api.index), methods=["GET", "HEAD"]),
        Route("/api/status", wrap(api.status), methods=["GET"]),
        Route("/api/search", wrap(api.search), methods=["POST"]),
        Route("/api/search/example", wrap(api.search_example), methods=["POST"]),
        Route("/api/search/phrase", wrap(api.search_phrase), methods=["POST"]),
        Route(hit, wrap(api.hit), methods=["GET"]),
        Route(f"{hit}/notes", wrap(api.notes), methods=["GET"]),
        Route(f"{hit}/clip.mid", wrap(api.midi), methods=["GET"]),
        Route(hit + "/audio.{fmt}", wrap(api.audio), methods=["GET", "HEAD"]),
        Route(f"{hit}/play", wrap(api.play), methods=["POST"]),
        Route("/api/play/stop", wrap(api.stop), methods=["POST"]),
        Route("/api/library", wrap(api.library_stats), methods=["GET"]),
        Route("/api/library/index", wrap(api.library_index), methods=["POST"]),
        Route("/api/library/index", wrap(api.library_index_state), methods=["GET"]),
        Route("/api/generate", wrap(api.generate), methods=["GET"]),
        Route("/api/generate/start", wrap(api.generate_start), methods=["POST"]),
        Route("/api/generate/stop", wrap(api.generate_stop), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        Route("/api/{rest:path}", wrap(api.not_found), methods=["GET", "POST", "HEAD"]),
    ]
    app = Starlette(routes=routes)
    return app, api
