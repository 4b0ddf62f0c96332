"""Audio previews: a clip's MIDI rendered by FluidSynth (a subprocess), cached by content hash.

The event loop only starts the process and waits for it (asyncio subprocess): rendering never holds the
GIL the MIDI callback needs. The same clip asked twice at once is rendered once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import time
from pathlib import Path

from bridge.daemon.search_service import normal_priority

log = logging.getLogger(__name__)

ENV_SOUNDFONT = "MIDIBRIDGE_SOUNDFONT"
SOUNDFONTS = (  # Debian: timgm6mb-soundfont (what scripts/setup.sh installs), fluid-soundfont-gm, the default link
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
FORMATS = {"wav": ("wav", "audio/wav"), "ogg": ("oga", "audio/ogg")}  # ours -> (fluidsynth -T, media type)
RATE = 22050
GAIN = 0.5  # FluidSynth's default 0.2 leaves a solo piano at -50 dB RMS; 0.5 keeps a 4-voice chorale's peaks < -10 dB
RENDER_TIMEOUT = 60.0  # seconds; a clip is at most a few minutes of music
MAX_CACHE_FILES = 400


class AudioUnavailable(Exception):
    """No FluidSynth or no soundfont: previews cannot be rendered (the reason says what to install)."""


def find_soundfont() -> Path | None:
    env = os.environ.get(ENV_SOUNDFONT)
    if env:
        p = Path(env).expanduser()
        return p if p.is_file() else None
    for p in SOUNDFONTS:
        if Path(p).is_file():
            return Path(p).resolve()
    return None


class Renderer:
    def __init__(self, cache_dir: Path, rate: int = RATE, max_parallel: int = 2) -> None:
        self.cache_dir = cache_dir
        self.rate = rate
        self.fluidsynth = shutil.which("fluidsynth")
        self.soundfont = find_soundfont()
        self._limit = asyncio.Semaphore(max_parallel)
        self._inflight: dict[str, asyncio.Future] = {}
        self.renders = 0
        self.hits = 0
        self.render_ms: list[float] = []

    def problem(self) -> str:
        if not self.fluidsynth:
            return "no audio preview: fluidsynth is not installed (apt install fluidsynth)"
        if self.soundfont is None:
            where = os.environ.get(ENV_SOUNDFONT) or ", ".join(SOUNDFONTS[:2])
            return f"no audio preview: no General MIDI soundfont at {where} (apt install timgm6mb-soundfont)"
        return ""

    def key(self, midi: bytes, fmt: str) -> str:
        sf = self.soundfont
        st = sf.stat() if sf else None
        h = hashlib.sha256(midi)
        h.update(f"|{sf}|{st.st_size if st else 0}|{st.st_mtime_ns if st else 0}|{self.rate}|{GAIN}|{fmt}".encode())
        return h.hexdigest()[:32]

    def cached(self, midi: bytes, fmt: str) -> Path | None:
        path = self.cache_dir / f"{self.key(midi, fmt)}.{fmt}"
        return path if path.is_file() else None

    async def render(self, midi: bytes, fmt: str = "wav") -> Path:
        """The rendered file for these MIDI bytes (from the cache when it is there)."""
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        problem = self.problem()
        if problem:
            raise AudioUnavailable(problem)
        key = self.key(midi, fmt)
        out = self.cache_dir / f"{key}.{fmt}"
        if out.is_file():
            self.hits += 1
            return out
        running = self._inflight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            path = await self._render(midi, fmt, key, out)
            future.set_result(path)
            return path
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as e:
            future.set_exception(e)
            future.exception()  # retrieved: a render nobody else waited for must not warn
            raise
        finally:
            self._inflight.pop(key, None)

    async def _render(self, midi: bytes, fmt: str, key: str, out: Path) -> Path:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        src = self.cache_dir / f"{key}.{os.getpid()}.mid"
        tmp = self.cache_dir / f"{key}.{os.getpid()}.part.{fmt}"
        src.write_bytes(midi)
        async with self._limit:
            t0 = time.perf_counter()
            with normal_priority():  # never at the event loop's real-time priority
                proc = await asyncio.create_subprocess_exec(
                    self.fluidsynth, "-ni", "-q", "-g", str(GAIN), "-T", FORMATS[fmt][0], "-F", str(tmp),
                    "-r", str(self.rate), str(self.soundfont), str(src), stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            try:
                _, err = await asyncio.wait_for(proc.communicate(), RENDER_TIMEOUT)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                proc.kill()
                await proc.wait()
                tmp.unlink(missing_ok=True)
                src.unlink(missing_ok=True)
                raise
            src.unlink(missing_ok=True)
            if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
                tmp.unlink(missing_ok=True)
                msg = err.decode(errors="replace").strip().splitlines()
                raise RuntimeError(f"fluidsynth failed ({proc.returncode}): {msg[-1] if msg else 'no output'}")
            os.replace(tmp, out)
            ms = (time.perf_counter() - t0) * 1000.0
        self.renders += 1
        self.render_ms = (self.render_ms + [ms])[-200:]
        log.debug("rendered %s in %.0f ms", out.name, ms)
        if self.renders % 50 == 0:
            await asyncio.get_running_loop().run_in_executor(None, self.prune)
        return out

    def prune(self) -> None:
        """Keep the newest MAX_CACHE_FILES previews (a preview is re-rendered in ~0.1 s when needed again)."""
        try:
            files = sorted((p for p in self.cache_dir.iterdir() if p.suffix in (".wav", ".ogg")),
                           key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return
        for p in files[MAX_CACHE_FILES:]:
            p.unlink(missing_ok=True)

    def status(self) -> dict:
        ms = sorted(self.render_ms)
        return {"available": not self.problem(), "problem": self.problem(),
                "soundfont": str(self.soundfont) if self.soundfont else None, "rate": self.rate,
                "renders": self.renders, "cache_hits": self.hits,
                "render_ms_p50": round(ms[len(ms) // 2], 1) if ms else None}
